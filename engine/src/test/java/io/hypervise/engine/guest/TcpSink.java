package io.hypervise.engine.guest;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.CompletableFuture;

/**
 * A socket on the host's side of a virtual switch that a guest sends to: it counts what one connection
 * brings until the guest closes it, or says -1 when none came before {@link #close()}.
 */
final class TcpSink implements AutoCloseable {

    private final ServerSocket server;
    private final CompletableFuture<Long> received;

    TcpSink(String address) throws IOException {
        server = new ServerSocket(0, 1, InetAddress.getByName(address));
        received = CompletableFuture.supplyAsync(this::receiveOne);
    }

    int port() {
        return server.getLocalPort();
    }

    /** The bytes of the connection (once it has ended), or -1 if the sink was closed before one came. */
    CompletableFuture<Long> received() {
        return received;
    }

    private long receiveOne() {
        try (Socket guest = server.accept(); InputStream in = guest.getInputStream()) {
            long total = 0;
            byte[] buffer = new byte[65536];
            for (int n; (n = in.read(buffer)) > 0; ) {
                total += n;
            }
            return total;
        } catch (SocketException closedBeforeAnyCame) {
            return -1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
