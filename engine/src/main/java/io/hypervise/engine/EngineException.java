package io.hypervise.engine;

/**
 * Base of every failure the engine reports to its users: its VMs', their definitions', its QMP
 * connections', its virtual switches' and its storage's. Unchecked: callers (the server) map each kind
 * to one answer in one place, and the message is always written for the person who has to act on it.
 *
 * <p>Not sealed: its kinds live in the packages of the concepts that fail, and a sealed class outside a
 * named module may only permit subclasses of its own package.
 */
public abstract class EngineException extends RuntimeException {

    protected EngineException(String message) {
        super(message);
    }

    protected EngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
