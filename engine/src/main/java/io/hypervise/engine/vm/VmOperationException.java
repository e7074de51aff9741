package io.hypervise.engine.vm;

/** An allowed action that failed while it was carried out: the worker would not start, a save broke off. */
public final class VmOperationException extends EngineException {

    public VmOperationException(String message) {
        super(message);
    }

    public VmOperationException(String message, Throwable cause) {
        super(message, cause);
    }
}
