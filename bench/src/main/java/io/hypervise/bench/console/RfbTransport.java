package io.hypervise.bench.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;

/** Where an RFB client's bytes go: straight to QEMU's display socket, or through the server's WebSocket. */
interface RfbTransport extends AutoCloseable {

    InputStream in();

    void write(byte[] bytes) throws IOException;

    @Override
    void close() throws IOException;

    /** The display's unix socket, as the server itself reaches it. */
    static RfbTransport direct(Path socket) throws IOException {
        SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        InputStream in = Channels.newInputStream(channel);
        return new RfbTransport() {
            public InputStream in() {
                return in;
            }

            public void write(byte[] bytes) throws IOException {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            }

            public void close() throws IOException {
                channel.close();
            }
        };
    }

    /** The console endpoint, with the signed-in session's cookies; as noVNC connects. */
    static RfbTransport webSocket(HttpClient http, LoopbackCookies cookies, URI server, String vmId) throws Exception {
        WebSocketStream stream = new WebSocketStream();
        String cookie = cookies.header(server);
        URI uri = URI.create(server.toString().replaceFirst("^http", "ws") + "/console/" + vmId + "/websockify");
        WebSocket socket = http.newWebSocketBuilder().subprotocols("binary").header("Cookie", cookie)
                .connectTimeout(Duration.ofSeconds(10)).buildAsync(uri, stream).get();
        return new RfbTransport() {
            public InputStream in() {
                return stream;
            }

            public void write(byte[] bytes) {
                socket.sendBinary(ByteBuffer.wrap(bytes), true).join();
            }

            public void close() {
                socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").join();
            }
        };
    }

    /** WebSocket frames as one byte stream, pulled one frame at a time (so the socket's own flow control holds). */
    final class WebSocketStream extends InputStream implements WebSocket.Listener {

        private static final byte[] END = new byte[0];
        private final BlockingQueue<byte[]> frames = new LinkedBlockingQueue<>();
        private byte[] current = new byte[0];
        private int at;

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            frames.add(bytes);
            webSocket.request(1);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            frames.add(END);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            System.err.println("the console's WebSocket failed: " + error);
            frames.add(END);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0; // InputStream.readNBytes asks for nothing once it has what it wanted
            }
            while (at == current.length) {
                if (current == END) {
                    return -1;
                }
                try {
                    current = frames.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException();
                }
                at = 0;
                if (current == END) {
                    return -1;
                }
            }
            int n = Math.min(len, current.length - at);
            System.arraycopy(current, at, b, off, n);
            at += n;
            return n;
        }
    }
}
