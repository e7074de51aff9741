package io.hypervise.bench.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The least QMP client that can run QEMU's snapshot jobs and hot-plug a disk, written for the benchmarks' reference side so it
 * shares nothing with the engine's {@code QmpClient}: one line of JSON per message
 * (<a href="https://www.qemu.org/docs/master/interop/qmp-spec.html">QMP spec</a>), read by one thread into a
 * queue so that every wait has a deadline. Events that arrive while a command waits for its answer are kept
 * for {@link #awaitEvent}, and every event is remembered with QEMU's own timestamp.
 */
public final class QmpSocket implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNode CLOSED = JSON.createObjectNode().put("closed", true);

    private final SocketChannel channel;
    private final OutputStream out;
    private final BlockingQueue<JsonNode> incoming = new LinkedBlockingQueue<>();
    private final Deque<JsonNode> unclaimed = new ArrayDeque<>();
    private final List<JsonNode> seen = new ArrayList<>();

    private QmpSocket(SocketChannel channel) {
        this.channel = channel;
        this.out = Channels.newOutputStream(channel);
        Thread.ofPlatform().daemon().name("qmp-reader").start(this::read);
    }

    /** Connects (QEMU makes the socket a moment after it starts), reads the greeting, leaves negotiation mode. */
    public static QmpSocket connect(Path socket, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        SocketChannel channel;
        while (true) {
            try {
                channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                break;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("no QMP socket at " + socket + " within " + timeout.toSeconds() + " s", e);
                }
                TimeUnit.MILLISECONDS.sleep(20);
            }
        }
        QmpSocket qmp = new QmpSocket(channel);
        JsonNode greeting = qmp.next(timeout);
        if (!greeting.has("QMP")) {
            qmp.close();
            throw new IOException("QEMU did not greet with QMP: " + greeting);
        }
        qmp.execute("qmp_capabilities", null, timeout);
        return qmp;
    }

    /** Sends a command and returns its {@code return} member; an {@code error} answer is an exception. */
    public JsonNode execute(String command, ObjectNode arguments, Duration timeout) throws IOException, InterruptedException {
        ObjectNode message = JSON.createObjectNode().put("execute", command);
        if (arguments != null) {
            message.set("arguments", arguments);
        }
        out.write((message + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonNode answer = next(Duration.ofNanos(deadline - System.nanoTime()));
            if (answer.has("event")) {
                unclaimed.add(answer);
            } else if (answer.has("error")) {
                throw new IOException(command + ": " + answer.path("error").path("desc").asText(answer.toString()));
            } else if (answer.has("return")) {
                return answer.get("return");
            }
        }
    }

    /** The first event that matches, kept from earlier or still to come; other events are set aside. */
    public JsonNode awaitEvent(Predicate<JsonNode> wanted, Duration timeout) throws IOException, InterruptedException {
        for (Iterator<JsonNode> it = unclaimed.iterator(); it.hasNext(); ) {
            JsonNode event = it.next();
            if (wanted.test(event)) {
                it.remove();
                return event;
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonNode message = next(Duration.ofNanos(deadline - System.nanoTime()));
            if (message.has("event") && wanted.test(message)) {
                return message;
            }
            if (message.has("event")) {
                unclaimed.add(message);
            }
        }
    }

    /** Every event received so far, in order, and forgets them. */
    public List<JsonNode> drainSeen() {
        synchronized (seen) {
            List<JsonNode> copy = List.copyOf(seen);
            seen.clear();
            unclaimed.clear();
            return copy;
        }
    }

    /** An event's time as QEMU stamped it, in seconds. */
    public static double timestamp(JsonNode event) {
        JsonNode t = event.path("timestamp");
        return t.path("seconds").asLong() + t.path("microseconds").asLong() / 1e6;
    }

    private JsonNode next(Duration timeout) throws IOException, InterruptedException {
        JsonNode message = timeout.isNegative() ? null : incoming.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (message == null) {
            throw new IOException("QEMU said nothing on QMP within the time allowed");
        }
        if (message == CLOSED) {
            incoming.add(CLOSED);
            throw new IOException("QEMU closed its QMP socket");
        }
        return message;
    }

    private void read() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode message = JSON.readTree(line);
                if (message.has("event")) {
                    synchronized (seen) {
                        seen.add(message);
                    }
                }
                incoming.add(message);
            }
        } catch (IOException e) {
            // the socket closed under us: the waiting side hears of it below
        } finally {
            incoming.add(CLOSED);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
