package io.hypervise.engine.display;

import io.hypervise.engine.qmp.DeadlineSocket;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One VM's screen as an RFB stream (RFB 3.8, RFC 6143): QEMU's VNC server on a unix socket of its
 * worker. Every connection is made within a deadline: a stopped or hung worker still has the kernel
 * queue connections on its socket, and must never hold the thread that asked.
 */
public final class VmDisplay {

    /** One bounded exchange on the display's connection. */
    @FunctionalInterface
    public interface Exchange<T> {
        T on(SocketChannel display) throws IOException;
    }

    private final String vmId;
    private final Path socket;

    /** @param socket the worker's display socket, there while the worker runs */
    public VmDisplay(String vmId, Path socket) {
        this.vmId = vmId;
        this.socket = socket;
    }

    public String vmId() {
        return vmId;
    }

    /** Whether the VM has a display now: its worker made the socket, and the engine removes it when the worker ends. */
    public boolean isAvailable() {
        return Files.exists(socket);
    }

    /**
     * Connects for a stream that lasts as long as its viewer: the connect must succeed within
     * {@code timeout}; once connected, a display that goes quiet only leaves its own viewer waiting.
     *
     * @throws DeadlineSocket.NotAnsweringException if the display accepted no connection in time
     */
    public SocketChannel stream(Duration timeout) throws IOException {
        DeadlineSocket connection = DeadlineSocket.connect(socket, timeout);
        if (!connection.disarm()) {
            connection.close();
            throw new DeadlineSocket.NotAnsweringException("the display of VM " + vmId
                    + " accepted no connection within " + timeout.toSeconds() + " s", null);
        }
        return connection.channel();
    }

    /**
     * Connects and runs {@code exchange}, all of it within {@code timeout}, then closes the connection.
     *
     * @param doing what the exchange does, for the message of a failure ("read a frame from")
     * @throws DeadlineSocket.NotAnsweringException if the display did not answer in time
     */
    public <T> T exchange(Duration timeout, String doing, Exchange<T> exchange) throws IOException {
        try (DeadlineSocket connection = DeadlineSocket.connect(socket, timeout)) {
            try {
                return exchange.on(connection.channel());
            } catch (IOException e) {
                throw connection.failure(doing, e);
            }
        }
    }
}
