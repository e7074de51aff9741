package io.hypervise.engine.vm;

import io.hypervise.engine.EngineException;

/** A VM with that id is already defined. */
public final class VmAlreadyExistsException extends EngineException {

    public VmAlreadyExistsException(String id) {
        super("a VM with id '" + id + "' is already defined on this host");
    }
}
