package io.hypervise.engine.vm;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;

/**
 * Carries a VM's migration stream between its worker and a file over a unix socket. The engine,
 * not a shell command inside QEMU, writes and reads the saved state: no shell ever sees a path, and
 * the engine knows exactly when the file is complete and durable.
 */
final class SavedStateStream {

    private static final int CHUNK = 1 << 20;

    private SavedStateStream() {
    }

    /**
     * Listens on {@code socket}; the returned future completes with the byte count once the worker has
     * connected, sent its whole stream and closed, and the file has been forced to disk.
     */
    static CompletableFuture<Long> receive(Path socket, Path target, LongConsumer progress) throws IOException {
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        CompletableFuture<Long> done = new CompletableFuture<>();
        Thread.ofVirtual().name("save-stream-" + target.getParent().getFileName()).start(() -> {
            try (server;
                 SocketChannel in = server.accept();
                 FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                         StandardOpenOption.TRUNCATE_EXISTING)) {
                long total = 0;
                long n;
                while ((n = out.transferFrom(in, total, CHUNK)) > 0) {
                    total += n;
                    progress.accept(total);
                }
                out.force(true);
                done.complete(total);
            } catch (IOException | RuntimeException e) {
                done.completeExceptionally(e);
            } finally {
                deleteQuietly(socket);
            }
        });
        done.whenComplete((n, e) -> closeQuietly(server));
        return done;
    }

    /** Connects to the worker's listening {@code socket} (retrying until it appears) and sends the file. */
    static long send(Path socket, Path source, Duration connectTimeout, LongConsumer progress) throws IOException {
        try (SocketChannel out = connect(socket, connectTimeout);
             FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
            long size = in.size();
            long sent = 0;
            while (sent < size) {
                sent += in.transferTo(sent, Math.min(CHUNK, size - sent), out);
                progress.accept(sent);
            }
            return sent;
        }
    }

    private static SocketChannel connect(Path socket, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return SocketChannel.open(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("the worker did not open " + socket + " within " + timeout.toSeconds() + " s", e);
                }
                pause();
            }
        }
    }

    private static void pause() throws IOException {
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static void closeQuietly(ServerSocketChannel server) {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing only unblocks a pending accept; nothing to report
        }
    }

    private static void deleteQuietly(Path socket) {
        try {
            Files.deleteIfExists(socket);
        } catch (IOException ignored) {
            // a stale socket file is replaced on the next save
        }
    }
}
