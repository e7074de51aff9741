package io.hypervise.engine.qmp;

import io.hypervise.engine.EngineException;

/**
 * Base of every failure talking QMP to a QEMU worker: the worker died, hung, or refused the command.
 *
 * <p>An {@link EngineException} like every failure the engine reports, so unchecked; the typed
 * {@link QemuMonitor} commands still declare it, since the caller, which knows what the VM was doing,
 * must decide what it means for the VM's state.
 */
public class QmpException extends EngineException {

    public QmpException(String message) {
        super(message);
    }

    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}
