package io.hypervise.engine.qmp;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A QMP server on a real unix domain socket that plays one scripted conversation with one client,
 * the way QEMU frames it (one JSON message a line, CRLF). Failures inside the conversation (the client
 * sent something unexpected) are rethrown by {@link #close()}, so they fail the test.
 */
final class FakeQmpServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The server side of a scripted conversation. */
    interface Conversation {
        void play(Peer client) throws Exception;
    }

    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread thread;
    private final AtomicReference<SocketChannel> connection = new AtomicReference<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    private FakeQmpServer(Path socket, Conversation conversation) throws IOException {
        this.socket = socket;
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        this.thread = new Thread(() -> serve(conversation), "fake-qmp-server");
        thread.setDaemon(true);
        thread.start();
    }

    static FakeQmpServer start(Path socket, Conversation conversation) throws IOException {
        return new FakeQmpServer(socket, conversation);
    }

    /** Replays a transcript, checking what the client sends against its {@code >} lines. */
    static FakeQmpServer replaying(Path socket, String transcript) throws IOException {
        return start(socket, replay(Transcript.load(transcript)));
    }

    Path socket() {
        return socket;
    }

    private void serve(Conversation conversation) {
        try (SocketChannel client = server.accept()) {
            connection.set(client);
            conversation.play(new Peer(client));
        } catch (Throwable e) {
            failure.set(e);
        }
    }

    /** Stops the server, waits for the conversation to end, and fails if it went wrong. */
    @Override
    public void close() throws Exception {
        server.close();
        thread.join(TimeUnit.SECONDS.toMillis(5));
        boolean unfinished = thread.isAlive();
        SocketChannel client = connection.get();
        if (client != null) {
            client.close();
            thread.join(TimeUnit.SECONDS.toMillis(5));
        }
        Files.deleteIfExists(socket);
        if (unfinished) {
            throw new AssertionError("the scripted QMP conversation did not finish: the client stopped early");
        }
        Throwable failed = failure.get();
        boolean neverConnected = client == null && failed instanceof AsynchronousCloseException;
        if (failed instanceof AssertionError assertion) {
            throw assertion;
        }
        if (failed != null && !neverConnected) {
            throw new AssertionError("fake QMP server failed", failed);
        }
    }

    static Conversation replay(Transcript transcript) {
        return client -> {
            Map<JsonNode, JsonNode> actualIds = new HashMap<>();
            for (Transcript.Step step : transcript.steps()) {
                switch (step) {
                    case Transcript.ClientSends expected -> {
                        JsonNode actual = client.receive();
                        if (actual == null) {
                            throw new AssertionError(transcript.name() + ":" + expected.line()
                                    + ": client closed the connection, expected " + expected.message());
                        }
                        if (!withoutId(actual).equals(withoutId(expected.message()))) {
                            throw new AssertionError(transcript.name() + ":" + expected.line() + ": expected "
                                    + expected.message() + " but the client sent " + actual);
                        }
                        actualIds.put(expected.message().get("id"), actual.get("id"));
                    }
                    case Transcript.ServerSends message -> client.send(withIdsOf(message.message(), actualIds));
                    case Transcript.ServerCloses ignored -> {
                        client.closeConnection();
                        return;
                    }
                }
            }
            JsonNode extra = client.receive();
            if (extra != null) {
                throw new AssertionError(transcript.name() + ": client sent " + extra + " after the transcript ended");
            }
        };
    }

    private static JsonNode withoutId(JsonNode message) {
        ObjectNode copy = message.deepCopy();
        copy.remove("id");
        return copy;
    }

    private static JsonNode withIdsOf(JsonNode message, Map<JsonNode, JsonNode> actualIds) {
        JsonNode recorded = message.get("id");
        if (recorded == null || !actualIds.containsKey(recorded)) {
            return message;
        }
        ObjectNode copy = message.deepCopy();
        copy.set("id", actualIds.get(recorded));
        return copy;
    }

    /** The client as the fake server sees it. */
    static final class Peer {

        private final SocketChannel channel;
        private JsonParser parser;

        Peer(SocketChannel channel) {
            this.channel = channel;
        }

        /** @return the client's next message, or null when it closed the connection */
        JsonNode receive() throws IOException {
            if (parser == null) {
                // Not earlier: Jackson reads the first bytes as it creates a parser. A stream of JSON
                // values, since QMP requests need not end with a newline (ours do not).
                parser = JSON.createParser(Channels.newInputStream(channel));
            }
            if (parser.nextToken() == null) {
                return null;
            }
            return JSON.readTree(parser);
        }

        void send(JsonNode message) throws IOException {
            send(JSON.writeValueAsString(message));
        }

        /** Sends raw text as one line, exactly as QEMU ends its lines. */
        void send(String line) throws IOException {
            ByteBuffer bytes = ByteBuffer.wrap((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        }

        void closeConnection() throws IOException {
            channel.close();
        }
    }
}
