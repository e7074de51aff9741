package io.hypervise.engine.qmp;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The byte level of a QMP connection: a unix domain socket carrying a stream of JSON objects.
 * One thread reads, one thread writes; they do not need to coordinate.
 */
final class QmpChannel implements AutoCloseable {

    private static final Duration FIRST_RETRY_PAUSE = Duration.ofMillis(10);
    private static final Duration LONGEST_RETRY_PAUSE = Duration.ofMillis(200);

    private final SocketChannel socket;
    private final ObjectMapper json;
    /** Created by the reader on its first read: Jackson reads the first bytes as it creates a parser. */
    private JsonParser parser;

    private QmpChannel(SocketChannel socket, ObjectMapper json) {
        this.socket = socket;
        this.json = json;
    }

    /**
     * Connects, retrying while the socket is missing or refuses: QEMU creates and binds its QMP
     * socket a little after the process starts. Never past the deadline, even when a stopped
     * worker's full listen queue makes connect itself block (see {@link DeadlineSocket}).
     */
    static QmpChannel open(Path path, ObjectMapper json, long deadlineNanos)
            throws QmpConnectException, InterruptedException {
        long pauseNanos = FIRST_RETRY_PAUSE.toNanos();
        while (true) {
            IOException failure;
            try {
                DeadlineSocket socket = DeadlineSocket.connect(path, deadlineNanos);
                // The connection lives on: from here each command bounds its own wait.
                if (socket.disarm()) {
                    return new QmpChannel(socket.channel(), json);
                }
                failure = new IOException("the connection was accepted just as the deadline passed");
            } catch (IOException e) {
                failure = e;
            }
            long remaining = deadlineNanos - System.nanoTime();
            if (remaining <= 0) {
                throw new QmpConnectException(path, "the socket did not accept a connection in time (last attempt: "
                        + failure.getMessage() + ")", failure);
            }
            Thread.sleep(Duration.ofNanos(Math.min(pauseNanos, remaining)));
            pauseNanos = Math.min(pauseNanos * 2, LONGEST_RETRY_PAUSE.toNanos());
        }
    }

    /** Only ever called by one thread. @return the next message, or null once QEMU has closed the connection */
    JsonNode read() throws IOException {
        if (parser == null) {
            // A streaming parser, not lines: QEMU ends messages with CRLF, or spreads them over many
            // lines with -qmp ...,pretty=on, and the spec only promises a stream of JSON values.
            parser = json.createParser(new SocketInput(socket));
        }
        if (parser.nextToken() == null) {
            return null;
        }
        return json.readTree(parser);
    }

    /**
     * Writes one message. Without a trailing newline: QEMU reads QMP input a byte at a time and
     * pauses reading while a command runs, so after {@code quit} a newline would still sit unread in
     * its socket, and Linux reports an unread close to us as "connection reset" rather than EOF.
     */
    void write(byte[] message) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(message);
        while (bytes.hasRemaining()) {
            socket.write(bytes);
        }
    }

    /** Also wakes the reader: its blocked read fails with an AsynchronousCloseException. */
    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Closing a unix socket has nothing to flush; there is no failure worth reporting.
        }
    }

    /**
     * Reads straight from the channel. Not {@code Channels.newInputStream}: older JDKs' version holds
     * the channel's blocking lock while it waits for data; this one holds no lock on any JDK.
     */
    private static final class SocketInput extends InputStream {

        private final SocketChannel socket;

        SocketInput(SocketChannel socket) {
            this.socket = socket;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            return socket.read(ByteBuffer.wrap(buffer, offset, length));
        }
    }
}
