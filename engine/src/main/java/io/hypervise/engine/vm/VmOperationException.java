package io.hypervise.engine.vm;

import io.hypervise.engine.EngineException;

/** An allowed action that failed while it was carried out: the worker would not start, a save broke off. */
public sealed class VmOperationException extends EngineException permits VmUnresponsiveException {

    public VmOperationException(String message) {
        super(message);
    }

    public VmOperationException(String message, Throwable cause) {
        super(message, cause);
    }
}
