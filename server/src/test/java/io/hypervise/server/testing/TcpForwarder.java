package io.hypervise.server.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Relays TCP connections from one address to another, byte for byte, on virtual threads: how a service of the root
 * namespace that listens on 127.0.0.1 only is offered to hosts in other namespaces ({@link HostNetwork}).
 */
final class TcpForwarder implements AutoCloseable {

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();

    private TcpForwarder(ServerSocket server, InetSocketAddress target) {
        this.server = server;
        this.target = target;
    }

    static TcpForwarder start(InetSocketAddress listen, InetSocketAddress target) {
        try {
            ServerSocket server = new ServerSocket();
            server.bind(listen);
            TcpForwarder forwarder = new TcpForwarder(server, target);
            Thread.ofVirtual().name("forward-" + server.getLocalPort()).start(forwarder::accept);
            return forwarder;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + listen, e);
        }
    }

    int port() {
        return server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException closed) {
                return;
            }
            Thread.ofVirtual().start(() -> relay(client));
        }
    }

    private void relay(Socket client) {
        try (client; Socket upstream = new Socket()) {
            open.add(client);
            open.add(upstream);
            upstream.connect(target, 5_000);
            Thread back = Thread.ofVirtual().start(() -> copy(upstream, client));
            copy(client, upstream);
            back.join();
        } catch (IOException | InterruptedException e) {
            // the other side went away: nothing to relay
        } finally {
            open.remove(client);
        }
        open.removeIf(Socket::isClosed);
    }

    /** Copies until the source ends, then ends the destination's output (a half-close, as the source did). */
    private void copy(Socket from, Socket to) {
        try {
            // Not closed here: closing a socket's stream closes the socket, which the other direction still uses.
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            in.transferTo(out);
            to.shutdownOutput();
        } catch (IOException e) {
            // closed under us
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
