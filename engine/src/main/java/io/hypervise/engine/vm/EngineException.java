package io.hypervise.engine.vm;

/**
 * Base of the engine's failures. Unchecked: callers (the server) map each kind to one answer in one
 * place, and the message is always written for the person who has to act on it.
 */
public abstract sealed class EngineException extends RuntimeException
        permits InvalidVmDefinitionException, VmAlreadyExistsException, VmNotFoundException, VmOperationException,
        VmStateException {

    protected EngineException(String message) {
        super(message);
    }

    protected EngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
