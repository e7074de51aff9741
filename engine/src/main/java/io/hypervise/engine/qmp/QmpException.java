package io.hypervise.engine.qmp;

/**
 * Base of every failure talking QMP to a QEMU worker.
 *
 * <p>Checked on purpose: a QMP call fails for reasons outside the program (the worker died, hung,
 * or refused the command), like an {@link java.io.IOException}. The caller, which knows what the VM
 * was doing, must decide what that means for the VM's state; the compiler makes sure it does.
 */
public class QmpException extends Exception {

    public QmpException(String message) {
        super(message);
    }

    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}
