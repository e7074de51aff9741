package io.hypervise.engine.qmp;

import java.time.Duration;

/**
 * Receives a QMP connection's events, its silences and its end. All methods run on the connection's single
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
     * A command got no reply within its timeout: the worker has stopped answering (it is stopped,
     * stuck, or busy for longer than anyone waits). Once per silence, until {@link #onAnswering}.
     */
    default void onSilent(String command, Duration timeout) {
    }

    /** The worker sent something again after {@link #onSilent}; comes before what it sent. */
    default void onAnswering() {
    }

    /**
     * Called exactly once when a connection that {@link QmpClient#connect} returned ends.
     *
     * @param causeOrNull null after {@link QmpClient#close()}; otherwise why the connection ended, e.g.
     *                    a {@link QmpClosedException} when QEMU closed it (the worker exited or was
     *                    killed), an {@link java.io.IOException}, or a {@link QmpProtocolException}
     */
    void onClose(Throwable causeOrNull);
}
