package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.EngineException;

/** A differencing disk's chain cannot be followed: its parent was not supplied, is not the one it names, or the chain loops or is too deep. */
public final class VhdParentException extends EngineException {

    public VhdParentException(String message) {
        super(message);
    }
}
