package io.hypervise.engine.qmp;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A connection to one of a worker's unix domain sockets (its QMP monitor, its display) that cannot
 * outlast a deadline, connect included.
 *
 * <p>Java's unix-domain {@link SocketChannel} has no read timeout, and a stopped worker still has the
 * kernel queue a connection or two on its listening socket (QEMU listens with a backlog of 1); the
 * next connect blocks until the worker accepts (on a platform thread) or fails at once with EAGAIN
 * (on a virtual thread). So a virtual-thread watchdog closes the channel when the deadline passes,
 * which ends any connect, read or write blocked on it with an {@code AsynchronousCloseException}.
 * {@link #disarm()} lets a connection set up in time live on, for a protocol that bounds each of its
 * exchanges itself (QMP's commands).
 */
public final class DeadlineSocket implements AutoCloseable {

    private static final int ARMED = 0;
    private static final int DISARMED = 1;
    private static final int EXPIRED = 2;
    /** strerror(EAGAIN): how connect reports, on a virtual thread, a listening socket whose backlog is full. */
    private static final String QUEUE_FULL = "Resource temporarily unavailable";

    private final Path path;
    private final SocketChannel channel;
    private final Duration budget;
    private final AtomicInteger phase = new AtomicInteger(ARMED);
    private final Thread watchdog;

    private DeadlineSocket(Path path, SocketChannel channel, long deadlineNanos) {
        this.path = path;
        this.channel = channel;
        long remaining = Math.max(0, deadlineNanos - System.nanoTime());
        this.budget = Duration.ofNanos(remaining);
        this.watchdog = Thread.ofVirtual().name("deadline-" + path.getFileName()).start(() -> expireAfter(remaining));
    }

    /** Connects within {@code timeout}; the same deadline then bounds everything done on the channel. */
    public static DeadlineSocket connect(Path path, Duration timeout) throws IOException {
        return connect(path, System.nanoTime() + Durations.toNanos(timeout));
    }

    /** @param deadlineNanos on the {@link System#nanoTime()} clock */
    public static DeadlineSocket connect(Path path, long deadlineNanos) throws IOException {
        DeadlineSocket socket = new DeadlineSocket(path, SocketChannel.open(StandardProtocolFamily.UNIX), deadlineNanos);
        try {
            socket.channel.connect(UnixDomainSocketAddress.of(path));
            return socket;
        } catch (IOException e) {
            socket.close();
            throw socket.failure("connect to", e);
        }
    }

    public SocketChannel channel() {
        return channel;
    }

    /** Whether the deadline passed (and closed the channel) before {@link #disarm()} or {@link #close()}. */
    public boolean expired() {
        return phase.get() == EXPIRED;
    }

    /**
     * What to throw for a failed operation on the channel: if the deadline ended it, or the worker's
     * queue of connections is full, a {@link NotAnsweringException} that says so; otherwise {@code cause}.
     */
    public IOException failure(String doing, IOException cause) {
        if (expired()) {
            return new NotAnsweringException("could not " + doing + " " + path + " within " + Durations.format(budget)
                    + ": the worker does not answer (stopped or hung?)", cause);
        }
        if (QUEUE_FULL.equals(cause.getMessage())) {
            return new NotAnsweringException("could not " + doing + " " + path + ": its queue of connections is full,"
                    + " the worker does not accept them (stopped or hung?)", cause);
        }
        return cause;
    }

    /** Keeps the connection open past the deadline. @return false if the deadline had already closed it */
    public boolean disarm() {
        boolean disarmed = phase.compareAndSet(ARMED, DISARMED);
        watchdog.interrupt();
        return disarmed;
    }

    @Override
    public void close() {
        disarm();
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a unix socket has nothing to flush: no failure worth reporting
        }
    }

    private void expireAfter(long nanos) {
        try {
            Thread.sleep(Duration.ofNanos(nanos));
        } catch (InterruptedException disarmed) {
            return;
        }
        if (phase.compareAndSet(ARMED, EXPIRED)) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // the point was to end what was blocked on it, and closing does that
            }
        }
    }

    /** A worker's socket did not connect, or did not answer, before the deadline. */
    public static final class NotAnsweringException extends IOException {
        public NotAnsweringException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
