package io.hypervise.engine.vm;

import io.hypervise.engine.EngineException;

/** No VM with that id is defined on this engine. */
public final class VmNotFoundException extends EngineException {

    public VmNotFoundException(String id) {
        super("no VM with id '" + id + "' is defined on this host");
    }
}
