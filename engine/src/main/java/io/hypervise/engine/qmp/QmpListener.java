package io.hypervise.engine.qmp;

/**
 * Receives a QMP connection's events and its end. Both methods run on the connection's single
 * event thread ("qmp-events-…"), in the order QEMU sent the events; {@link #onClose} comes last.
 * They may call {@link QmpClient#execute} (responses are read on another thread), but a listener that
 * blocks delays the events after it. An exception thrown here is logged and does not stop delivery.
 */
public interface QmpListener {

    /** A listener for callers that only send commands. */
    QmpListener IGNORE = new QmpListener() {
        @Override
        public void onEvent(QmpEvent event) {
        }

        @Override
        public void onClose(Throwable causeOrNull) {
        }
    };

    void onEvent(QmpEvent event);

    /**
     * Called exactly once when a connection that {@link QmpClient#connect} returned ends.
     *
     * @param causeOrNull null after {@link QmpClient#close()}; otherwise why the connection ended, e.g.
     *                    a {@link QmpClosedException} when QEMU closed it (the worker exited or was
     *                    killed), an {@link java.io.IOException}, or a {@link QmpProtocolException}
     */
    void onClose(Throwable causeOrNull);
}
