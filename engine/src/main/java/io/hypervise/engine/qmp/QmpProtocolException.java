package io.hypervise.engine.qmp;

/** The peer sent something that is not QMP; the connection cannot be trusted and is closed. */
public final class QmpProtocolException extends QmpException {

    public QmpProtocolException(String message) {
        super(message);
    }
}
