package io.hypervise.engine.qmp;

import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Keeps what a QMP client delivers, and lets a test wait for it. */
class RecordingListener implements QmpListener {

    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private final BlockingQueue<QmpEvent> events = new LinkedBlockingQueue<>();
    private final List<Throwable> closeCauses = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch closed = new CountDownLatch(1);
    private final BlockingQueue<String> silences = new LinkedBlockingQueue<>();
    private final List<String> threads = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void onEvent(QmpEvent event) {
        threads.add(Thread.currentThread().getName());
        events.add(event);
    }

    @Override
    public void onSilent(String command, Duration timeout) {
        silences.add("silent: " + command + " (" + Durations.format(timeout) + ")");
    }

    @Override
    public void onAnswering() {
        silences.add("answering");
    }

    @Override
    public void onClose(Throwable causeOrNull) {
        threads.add(Thread.currentThread().getName());
        closeCauses.add(causeOrNull);
        closed.countDown();
    }

    QmpEvent nextEvent() throws InterruptedException {
        QmpEvent event = events.poll(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
        if (event == null) {
            fail("no QMP event within " + PATIENCE);
        }
        return event;
    }

    List<String> nextEventNames(int count) throws InterruptedException {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            names.add(nextEvent().name());
        }
        return names;
    }

    /** @return the cause onClose was given (null after close()) */
    Throwable awaitClose() throws InterruptedException {
        if (!closed.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)) {
            fail("onClose was not called within " + PATIENCE);
        }
        return closeCauses.getFirst();
    }

    /** The next onSilent and the onAnswering after it, as "silent: COMMAND (TIMEOUT)", "answering". */
    List<String> awaitSilenceAndAnswer() throws InterruptedException {
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            String next = silences.poll(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
            if (next == null) {
                fail("only " + seen + " within " + PATIENCE);
            }
            seen.add(next);
        }
        return seen;
    }

    int closeCount() {
        return closeCauses.size();
    }

    boolean hasPendingEvents() {
        return !events.isEmpty();
    }

    List<String> deliveryThreads() {
        return List.copyOf(threads);
    }
}
