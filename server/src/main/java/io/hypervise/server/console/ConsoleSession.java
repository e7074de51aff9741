package io.hypervise.server.console;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * One viewer's bridge to a VM's display: QEMU's RFB stream from its unix socket passed to the
 * viewer as it comes, the viewer's messages passed back through an {@link RfbClientFilter}.
 *
 * <p>Backpressure: the pump reads the next chunk from QEMU only once the previous one has been
 * written to the viewer (the sender blocks), so a slow viewer slows its own stream and nothing
 * queues without bound; RFB is request-driven, so QEMU merges what changed meanwhile.
 */
final class ConsoleSession {

    static final int CHUNK = 64 * 1024;

    private final ConsoleGrant grant;
    private final SocketChannel display;
    private final RfbClientFilter filter;
    private final Instant opened = Instant.now();
    private final AtomicLong bytesToViewer = new AtomicLong();
    private final AtomicLong bytesFromViewer = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Why the session ended: the first cause named wins (closing the viewer makes the pump fail too). */
    private final AtomicReference<String> endReason = new AtomicReference<>();

    private ConsoleSession(ConsoleGrant grant, SocketChannel display) {
        this.grant = grant;
        this.display = display;
        this.filter = new RfbClientFilter(grant.viewOnly());
    }

    /**
     * Connects to the VM's display, within {@code timeout} (a stopped worker's full queue of
     * connections would block connect for good); the stream starts with {@link #pump}. Once connected,
     * a display that goes quiet only leaves its own viewer waiting, until either side closes.
     */
    static ConsoleSession connect(ConsoleGrant grant, Duration timeout) throws IOException {
        return new ConsoleSession(grant, grant.display().stream(timeout));
    }

    ConsoleGrant grant() {
        return grant;
    }

    /**
     * Copies QEMU's output to the viewer until QEMU closes it (the VM stopped) or the session closes.
     * Runs on a thread of its own; {@code toViewer} blocks until the bytes are written.
     */
    void pump(Consumer<byte[]> toViewer, Runnable onDisplayClosed) {
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
        try {
            while (!closed.get()) {
                buffer.clear();
                int n = display.read(buffer);
                if (n < 0) {
                    endBecause("the VM's display closed (the VM stopped or restarted)");
                    onDisplayClosed.run();
                    return;
                }
                byte[] bytes = new byte[n];
                buffer.flip().get(bytes);
                toViewer.accept(bytes);
                bytesToViewer.addAndGet(n);
            }
        } catch (IOException | RuntimeException e) {
            if (!closed.get()) {
                endBecause("the stream to the viewer failed: " + e.getMessage());
                onDisplayClosed.run();
            }
        }
    }

    /** Passes what the viewer sent, filtered, to QEMU (blocking until written). */
    void fromViewer(byte[] bytes) throws RfbProtocolException, IOException {
        bytesFromViewer.addAndGet(bytes.length);
        byte[] allowed;
        synchronized (filter) {
            allowed = filter.accept(bytes);
        }
        ByteBuffer out = ByteBuffer.wrap(allowed);
        while (out.hasRemaining()) {
            display.write(out);
        }
    }

    void endBecause(String reason) {
        endReason.compareAndSet(null, reason);
    }

    /** Closes the display socket; true the first time only. */
    boolean close() {
        if (!closed.compareAndSet(false, true)) {
            return false;
        }
        try {
            display.close();
        } catch (IOException ignored) {
            // closing a unix socket we own: nothing to do about a failure
        }
        return true;
    }

    /** What the audit log keeps of a session that ended. */
    Summary summary() {
        return new Summary(grant.viewOnly(), Duration.between(opened, Instant.now()).toMillis() / 1000.0,
                bytesToViewer.get(), bytesFromViewer.get(), filter.inputsDropped(),
                Objects.requireNonNullElse(endReason.get(), "the viewer closed the console"));
    }

    record Summary(boolean viewOnly, double seconds, long bytesToViewer, long bytesFromViewer, long inputsDropped,
            String ended) {
    }
}
