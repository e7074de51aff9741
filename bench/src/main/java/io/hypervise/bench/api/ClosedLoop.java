package io.hypervise.bench.api;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fixed number of clients, each sending one request, waiting for its answer and sending the next
 * (a closed loop), with every latency recorded. A failed operation is counted, not timed.
 */
final class ClosedLoop {

    /** One operation of one client; throws if it failed. {@code n} numbers the operations of a run from 0. */
    interface Operation {
        void run(int client, long n) throws Exception;
    }

    private ClosedLoop() {
    }

    /** Runs the clients until the time is up. */
    static Run forDuration(int clients, Duration duration, Operation op) throws InterruptedException {
        AtomicLong next = new AtomicLong();
        AtomicLong deadline = new AtomicLong();
        return run(clients, op, () -> System.nanoTime() < deadline.get() ? next.getAndIncrement() : -1,
                () -> deadline.set(System.nanoTime() + duration.toNanos()));
    }

    /** Runs the clients until {@code count} operations are done. */
    static Run forCount(int clients, long count, Operation op) throws InterruptedException {
        AtomicLong next = new AtomicLong();
        return run(clients, op, () -> {
            long n = next.getAndIncrement();
            return n < count ? n : -1;
        }, () -> { });
    }

    private interface Ticket {
        long next();
    }

    private static Run run(int clients, Operation op, Ticket tickets, Runnable onStart) throws InterruptedException {
        CountDownLatch ready = new CountDownLatch(clients);
        CountDownLatch go = new CountDownLatch(1);
        AtomicLong errors = new AtomicLong();
        AtomicReference<String> firstError = new AtomicReference<>();
        List<Latencies> recorded = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int client = c;
            Latencies mine = new Latencies();
            recorded.add(mine);
            threads.add(Thread.ofPlatform().name("bench-client-" + c).start(() -> {
                ready.countDown();
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (long n = tickets.next(); n >= 0; n = tickets.next()) {
                    long t0 = System.nanoTime();
                    try {
                        op.run(client, n);
                        mine.add(System.nanoTime() - t0);
                    } catch (Exception e) {
                        errors.incrementAndGet();
                        firstError.compareAndSet(null, e.toString());
                    }
                }
            }));
        }
        ready.await();
        onStart.run();
        long t0 = System.nanoTime();
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long[] all = recorded.stream().flatMapToLong(l -> Arrays.stream(l.values, 0, l.size)).sorted().toArray();
        return new Run(all, errors.get(), firstError.get(), seconds);
    }

    /** A growable array of one client's latencies, in nanoseconds. */
    private static final class Latencies {
        long[] values = new long[1024];
        int size;

        void add(long nanos) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = nanos;
        }
    }

    /**
     * What a run measured: every successful operation's latency (sorted, in nanoseconds), the failures,
     * and the wall time from the start signal until the last client finished.
     */
    record Run(long[] sortedNanos, long errors, String firstError, double seconds) {

        static final Run EMPTY = new Run(new long[0], 0, null, 0);

        long operations() {
            return sortedNanos.length;
        }

        double perSecond() {
            return seconds == 0 ? 0 : operations() / seconds;
        }

        /** The latency below which a share {@code p} of the operations finished (nearest rank), in milliseconds. */
        double percentileMillis(double p) {
            if (sortedNanos.length == 0) {
                return Double.NaN;
            }
            int rank = (int) Math.ceil(p * sortedNanos.length);
            return sortedNanos[Math.max(0, Math.min(sortedNanos.length - 1, rank - 1))] / 1e6;
        }

        double maxMillis() {
            return sortedNanos.length == 0 ? Double.NaN : sortedNanos[sortedNanos.length - 1] / 1e6;
        }

        /** Two runs as one: their operations and their times added up. */
        Run plus(Run other) {
            long[] merged = new long[sortedNanos.length + other.sortedNanos.length];
            System.arraycopy(sortedNanos, 0, merged, 0, sortedNanos.length);
            System.arraycopy(other.sortedNanos, 0, merged, sortedNanos.length, other.sortedNanos.length);
            Arrays.sort(merged);
            return new Run(merged, errors + other.errors, firstError != null ? firstError : other.firstError,
                    seconds + other.seconds);
        }
    }
}
