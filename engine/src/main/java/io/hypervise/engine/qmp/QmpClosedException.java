package io.hypervise.engine.qmp;

/**
 * The QMP connection is closed: by {@link QmpClient#close()}, or because QEMU went away. Every
 * pending and later command fails with this at once instead of waiting for its timeout.
 */
public final class QmpClosedException extends QmpException {

    public QmpClosedException(String message) {
        super(message);
    }

    public QmpClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
