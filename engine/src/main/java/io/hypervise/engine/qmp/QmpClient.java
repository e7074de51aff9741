package io.hypervise.engine.qmp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A QMP session with one QEMU worker over its unix domain socket: every command has a timeout (and
 * so has connecting), replies are matched to commands by id, events go to a {@link QmpListener}, and
 * so does the news that the worker stopped answering and answers again. Thread-safe.
 *
 * <p>Three daemon threads per client, named after the socket: {@code qmp-reader-…} reads everything
 * QEMU sends; {@code qmp-writer-…} writes commands, so that interrupting a caller never closes the
 * shared socket (an interrupted blocking channel write does) and a worker that stops reading cannot
 * hold a caller past its timeout; {@code qmp-events-…} runs the listener (see {@link EventDispatcher}).
 *
 * @see <a href="https://www.qemu.org/docs/master/interop/qmp-spec.html">QMP specification</a>
 */
public final class QmpClient implements AutoCloseable {

    /**
     * How long QEMU must have sent nothing before a command that times out makes the client silent: a
     * short timeout (the counter sampler's) that a busy worker misses once is not a worker that stopped.
     */
    public static final Duration SILENT_AFTER = Duration.ofSeconds(5);

    /** For the overloads without a timeout; generous, since TCG makes some commands slow. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(10);

    private static final System.Logger LOG = System.getLogger(QmpClient.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CLOSED_BY_CLIENT = "was closed by the client";
    private static final String CLOSED_BY_QEMU =
            "was closed by QEMU (end of stream: the worker exited or closed its monitor)";

    private final Path socket;
    private final QmpChannel channel;
    private final EventDispatcher events;
    private final ExecutorService writer;
    private final PendingCommands pending = new PendingCommands();
    private final AtomicLong nextId = new AtomicLong(1);
    private final CompletableFuture<QmpGreeting> greeting = new CompletableFuture<>();
    /** A command timed out and QEMU has sent nothing since. */
    private final AtomicBoolean silent = new AtomicBoolean();
    /** When QEMU last sent anything, on the nanoTime clock. */
    private volatile long lastHeard = System.nanoTime();
    private volatile Duration silentAfter = SILENT_AFTER;

    private final Object lifecycle = new Object();
    /** Guarded by {@link #lifecycle}: connect() returned this client, so its listener hears onClose. */
    private boolean established;
    /** Null while open; written once, under {@link #lifecycle}. */
    private volatile Closure closure;

    /** @param reason completes "the connection to SOCKET …", e.g. "was closed by the client" */
    private record Closure(String reason, Throwable causeOrNull) {
    }

    private QmpClient(Path socket, QmpChannel channel, QmpListener listener) {
        this.socket = socket;
        this.channel = channel;
        String name = threadNameSuffix(socket);
        this.events = new EventDispatcher(listener, "qmp-events-" + name);
        this.writer = DaemonThreads.singleThread("qmp-writer-" + name);
        DaemonThreads.start("qmp-reader-" + name, this::readUntilClosed);
    }

    /**
     * Connects to a QEMU QMP socket, waiting for it to appear and accept, reads the greeting and
     * negotiates capabilities, all within {@code timeout}.
     *
     * @throws QmpConnectException if that does not succeed in time; the message names the socket
     */
    public static QmpClient connect(Path socket, Duration timeout, QmpListener listener)
            throws QmpException, InterruptedException {
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(listener, "listener");
        Durations.requirePositive(timeout, "QMP connect timeout");
        long deadline = System.nanoTime() + Durations.toNanos(timeout);
        QmpClient client = new QmpClient(socket, QmpChannel.open(socket, JSON, deadline), listener);
        try {
            client.handshake(timeout, deadline);
            return client;
        } catch (InterruptedException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /** {@link #connect(Path, Duration, QmpListener)} for callers that want no events. */
    public static QmpClient connect(Path socket, Duration timeout) throws QmpException, InterruptedException {
        return connect(socket, timeout, QmpListener.IGNORE);
    }

    public Path socket() {
        return socket;
    }

    public QmpGreeting greeting() {
        return greeting.resultNow();
    }

    public QemuVersion qemuVersion() {
        return greeting().version();
    }

    public boolean isOpen() {
        return closure == null;
    }

    /**
     * Whether a command timed out after QEMU had sent nothing for {@link #SILENT_AFTER}, and QEMU has
     * sent nothing since (see {@link QmpListener#onSilent}).
     */
    public boolean isSilent() {
        return silent.get();
    }

    /** For tests that need not wait {@link #SILENT_AFTER}. */
    void silentAfter(Duration quiet) {
        this.silentAfter = quiet;
    }

    /** @see #execute(String, ObjectNode, Duration) */
    public JsonNode execute(String command) throws QmpException, InterruptedException {
        return execute(command, null, DEFAULT_COMMAND_TIMEOUT);
    }

    /** @see #execute(String, ObjectNode, Duration) */
    public JsonNode execute(String command, Duration timeout) throws QmpException, InterruptedException {
        return execute(command, null, timeout);
    }

    /** @see #execute(String, ObjectNode, Duration) */
    public JsonNode execute(String command, ObjectNode arguments) throws QmpException, InterruptedException {
        return execute(command, arguments, DEFAULT_COMMAND_TIMEOUT);
    }

    /**
     * Runs a QMP command and waits for its reply.
     *
     * @param arguments the command's {@code arguments}, or null for none
     * @return the reply's {@code return} value (an empty object for commands that return nothing)
     * @throws QmpCommandException  if QEMU answered with an error
     * @throws QmpTimeoutException  if no reply came within {@code timeout}; the client stays usable
     * @throws QmpClosedException   if the connection is or becomes closed before the reply
     * @throws InterruptedException if the calling thread was interrupted while waiting
     */
    public JsonNode execute(String command, ObjectNode arguments, Duration timeout)
            throws QmpException, InterruptedException {
        Objects.requireNonNull(command, "command");
        Durations.requirePositive(timeout, "timeout of QMP command '" + command + "'");
        long id = nextId.getAndIncrement();
        byte[] request = request(command, arguments, id);
        CompletableFuture<QmpMessage.Reply> reply = pending.register(id);
        try {
            send(command, request, reply);
            return outcome(command, await(command, reply, timeout));
        } finally {
            pending.forget(id);
        }
    }

    /**
     * Closes the connection. Pending commands fail with {@link QmpClosedException}; the listener's
     * onClose gets null. Does not stop QEMU: a worker outlives its client.
     */
    @Override
    public void close() {
        shutdown(null, CLOSED_BY_CLIENT);
    }

    private void handshake(Duration timeout, long deadline) throws QmpException, InterruptedException {
        try {
            greeting.get(remainingNanos(deadline), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new QmpConnectException(socket, "QEMU accepted the connection but sent no greeting before the "
                    + Durations.format(timeout) + " timeout (QEMU serves one QMP client at a time: is another one"
                    + " connected?)", e);
        } catch (ExecutionException e) {
            throw new QmpConnectException(socket, "no QMP greeting: " + e.getCause().getMessage(), e.getCause());
        }
        try {
            // No capabilities enabled: out-of-band execution (oob) is only needed to overtake a
            // long-running command, which this client never has to.
            execute("qmp_capabilities", null, Duration.ofNanos(Math.max(remainingNanos(deadline), 1)));
        } catch (QmpException e) {
            throw new QmpConnectException(socket, "capabilities negotiation failed: " + e.getMessage(), e);
        }
        synchronized (lifecycle) {
            if (closure != null) {
                throw new QmpConnectException(socket, "the connection " + closure.reason() + " during the handshake",
                        closure.causeOrNull());
            }
            established = true;
        }
    }

    private void send(String command, byte[] request, CompletableFuture<QmpMessage.Reply> reply)
            throws QmpClosedException {
        // Checked after registering: a concurrent shutdown either sees our reply to fail, or we see it here.
        Closure closed = closure;
        if (closed != null) {
            throw new QmpClosedException("QMP command '" + command + "' not sent: the connection to " + socket
                    + " " + closed.reason(), closed.causeOrNull());
        }
        try {
            writer.execute(() -> write(request, reply));
        } catch (RejectedExecutionException closedMeanwhile) {
            throw new QmpClosedException("QMP command '" + command + "' not sent: the connection to " + socket
                    + " " + closure.reason(), closure.causeOrNull());
        }
    }

    private void write(byte[] request, CompletableFuture<QmpMessage.Reply> reply) {
        try {
            LOG.log(Level.TRACE, () -> socket + " <- " + new String(request, StandardCharsets.UTF_8));
            channel.write(request);
        } catch (IOException e) {
            reply.completeExceptionally(e);
            shutdown(e, "failed: " + describe(e));
        }
    }

    private QmpMessage.Reply await(String command, CompletableFuture<QmpMessage.Reply> reply, Duration timeout)
            throws QmpException, InterruptedException {
        try {
            return reply.get(Durations.toNanos(timeout), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            if (System.nanoTime() - lastHeard >= Durations.toNanos(silentAfter) && silent.compareAndSet(false, true)) {
                events.silent(command, timeout);
            }
            throw new QmpTimeoutException(command, timeout, socket);
        } catch (ExecutionException e) {
            Closure closed = closure;
            String reason = closed == null ? "failed: " + describe(e.getCause()) : closed.reason();
            throw new QmpClosedException("QMP command '" + command + "' got no reply: the connection to " + socket
                    + " " + reason, e.getCause());
        }
    }

    private static JsonNode outcome(String command, QmpMessage.Reply reply) throws QmpCommandException {
        return switch (reply) {
            case QmpMessage.Success success -> success.value();
            case QmpMessage.Failure failure ->
                    throw new QmpCommandException(command, failure.errorClass(), failure.description());
        };
    }

    private static byte[] request(String command, ObjectNode arguments, long id) {
        ObjectNode request = JSON.createObjectNode().put("execute", command);
        if (arguments != null) {
            request.set("arguments", arguments);
        }
        request.put("id", id);
        try {
            // Serialized here, on the caller's thread, so a caller may reuse its arguments at once.
            return JSON.writeValueAsBytes(request);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("arguments of QMP command '" + command + "' are not JSON: "
                    + e.getOriginalMessage(), e);
        }
    }

    private void readUntilClosed() {
        try {
            readMessages();
            shutdown(new QmpClosedException("QMP connection to " + socket + " " + CLOSED_BY_QEMU), CLOSED_BY_QEMU);
        } catch (IOException | RuntimeException e) {
            // After close() this is the AsynchronousCloseException that woke us: shutdown() ignores it.
            shutdown(e, "failed: " + describe(e));
        }
    }

    /** Returns when QEMU closes the connection. */
    private void readMessages() throws IOException, QmpProtocolException {
        JsonNode message;
        while ((message = channel.read()) != null) {
            JsonNode received = message;
            LOG.log(Level.TRACE, () -> socket + " -> " + received);
            handle(QmpMessage.parse(message), message);
        }
    }

    private void handle(QmpMessage message, JsonNode raw) throws QmpProtocolException {
        lastHeard = System.nanoTime();
        if (silent.compareAndSet(true, false)) {
            events.answering();
        }
        if (!greeting.isDone() && !(message instanceof QmpMessage.Greeting)) {
            throw new QmpProtocolException(socket + " does not speak QMP: it began with " + raw);
        }
        switch (message) {
            case QmpMessage.Greeting greeted -> {
                if (!greeting.complete(greeted.greeting())) {
                    LOG.log(Level.WARNING, "ignoring a second QMP greeting from {0}", socket);
                }
            }
            case QmpMessage.Event event -> events.deliver(event.event());
            case QmpMessage.Reply reply -> {
                if (reply.id() == null) {
                    // QEMU answers without id only when it could not parse the request at all.
                    LOG.log(Level.WARNING, "QMP error from {0} that answers no command: {1}", socket, reply);
                } else if (!pending.complete(reply)) {
                    LOG.log(Level.DEBUG, "discarding QMP reply nobody waits for (late after a timeout): {0}", reply);
                }
            }
            case QmpMessage.Unknown unknown ->
                    LOG.log(Level.WARNING, "ignoring unknown QMP message from {0}: {1}", socket, unknown.raw());
        }
    }

    /** Ends the session once, whoever notices first: close(), the reader, or a failed write. */
    private void shutdown(Throwable causeOrNull, String reason) {
        boolean notifyListener;
        synchronized (lifecycle) {
            if (closure != null) {
                return;
            }
            closure = new Closure(reason, causeOrNull);
            notifyListener = established;
        }
        channel.close();
        writer.shutdownNow();
        QmpClosedException failure = new QmpClosedException("QMP connection to " + socket + " " + reason, causeOrNull);
        greeting.completeExceptionally(failure);
        pending.failAll(failure);
        events.finish(causeOrNull, notifyListener);
    }

    private static String describe(Throwable cause) {
        String message = cause.getMessage();
        return message == null ? cause.getClass().getSimpleName() : message;
    }

    private static long remainingNanos(long deadline) {
        return deadline - System.nanoTime();
    }

    /** Workers keep their socket in a directory of their own, so the directory says whose it is. */
    private static String threadNameSuffix(Path socket) {
        Path parent = socket.toAbsolutePath().getParent();
        if (parent == null || parent.getFileName() == null) {
            return String.valueOf(socket.getFileName());
        }
        return parent.getFileName() + "/" + socket.getFileName();
    }
}
