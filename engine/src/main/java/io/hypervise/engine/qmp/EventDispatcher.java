package io.hypervise.engine.qmp;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * Hands events to the listener on a thread of their own, in order. Not on the reader thread: a
 * listener that reacts to an event by sending a command would otherwise wait for a response that
 * only the thread it is blocking could read.
 */
final class EventDispatcher {

    private static final System.Logger LOG = System.getLogger(EventDispatcher.class.getName());

    private final QmpListener listener;
    private final ExecutorService thread;

    EventDispatcher(QmpListener listener, String threadName) {
        this.listener = listener;
        this.thread = DaemonThreads.singleThread(threadName);
    }

    void deliver(QmpEvent event) {
        submit(() -> listener.onEvent(event), "event " + event.name());
    }

    void silent(String command, Duration timeout) {
        submit(() -> listener.onSilent(command, timeout), "silence after " + command);
    }

    void answering() {
        submit(listener::onAnswering, "answering again");
    }

    /** Delivers onClose after every queued event (if {@code notify}), then lets the thread end. */
    void finish(Throwable causeOrNull, boolean notify) {
        if (notify) {
            submit(() -> listener.onClose(causeOrNull), "onClose");
        }
        thread.shutdown();
    }

    private void submit(Runnable delivery, String what) {
        try {
            thread.execute(() -> deliverSafely(delivery, what));
        } catch (RejectedExecutionException afterFinish) {
            // The connection was closed by close() while this event was being read: nobody is owed it.
            LOG.log(Level.DEBUG, "dropping {0} that arrived after the QMP connection closed", what);
        }
    }

    private void deliverSafely(Runnable delivery, String what) {
        try {
            delivery.run();
        } catch (VirtualMachineError fatal) {
            throw fatal;
        } catch (Throwable listenerFailure) {
            // One faulty listener must not cost the VM its later events (or its onClose).
            LOG.log(Level.WARNING, "QMP listener failed on " + what, listenerFailure);
        }
    }
}
