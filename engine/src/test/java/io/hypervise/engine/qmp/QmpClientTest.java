package io.hypervise.engine.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The QMP client against transcripts recorded from QEMU 7.2, replayed over a real unix socket. */
@Timeout(60)
class QmpClientTest {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    @TempDir
    Path dir;

    private final RecordingListener listener = new RecordingListener();

    private Path socket() {
        return dir.resolve("qmp.sock");
    }

    private QmpClient connect(FakeQmpServer server) throws Exception {
        return QmpClient.connect(server.socket(), CONNECT_TIMEOUT, listener);
    }

    @Test
    void greetingTellsQemuVersionAndOfferedCapabilities() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "handshake.qmp");
             QmpClient client = connect(server)) {
            assertThat(client.qemuVersion()).isEqualTo(new QemuVersion(7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18+b3"));
            assertThat(client.qemuVersion()).hasToString("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)");
            assertThat(client.greeting().capabilities()).containsExactly("oob");
            client.execute("query-version");
            client.execute("query-status");
        }
    }

    @Test
    void connectNegotiatesCapabilitiesBeforeReturning() throws Exception {
        List<JsonNode> received = Collections.synchronizedList(new ArrayList<>());
        FakeQmpServer.Conversation conversation = peer -> {
            peer.send(Transcript.load("handshake.qmp").greeting());
            JsonNode negotiation = peer.receive();
            received.add(negotiation);
            peer.send("{\"return\": {}, \"id\": " + negotiation.get("id") + "}");
            assertThat(peer.receive()).isNull();
        };
        try (FakeQmpServer server = FakeQmpServer.start(socket(), conversation)) {
            connect(server).close();
        }
        assertThat(received).hasSize(1);
        assertThat(received.getFirst().get("execute").asText()).isEqualTo("qmp_capabilities");
        assertThat(received.getFirst().has("arguments")).as("no capabilities enabled").isFalse();
        assertThat(received.getFirst().get("id").isIntegralNumber()).isTrue();
    }

    @Test
    void commandReturnsItsReturnValue() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "handshake.qmp");
             QmpClient client = connect(server)) {
            JsonNode version = client.execute("query-version");
            assertThat(version.path("qemu").path("major").asInt()).isEqualTo(7);
            assertThat(version.path("package").asText()).isEqualTo(client.qemuVersion().packageName());

            JsonNode status = client.execute("query-status", Duration.ofSeconds(2));
            assertThat(status.path("status").asText()).isEqualTo("prelaunch");
            assertThat(status.path("running").asBoolean(true)).isFalse();
        }
    }

    @Test
    void errorReplyThrowsCommandExceptionWithClassAndDescription() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "errors.qmp");
             QmpClient client = connect(server)) {
            assertThatThrownBy(() -> client.execute("no-such-command"))
                    .isInstanceOfSatisfying(QmpCommandException.class, e -> {
                        assertThat(e.command()).isEqualTo("no-such-command");
                        assertThat(e.errorClass()).isEqualTo("CommandNotFound");
                        assertThat(e.description()).isEqualTo("The command no-such-command has not been found");
                    });

            QmpCommandException missingDevice = catchThrowableOfType(QmpCommandException.class,
                    () -> client.execute("device_del", NODES.objectNode().put("id", "missing-nic")));
            assertThat(missingDevice.errorClass()).isEqualTo("DeviceNotFound");
            assertThat(missingDevice).hasMessage("QMP command 'device_del' failed: DeviceNotFound: "
                    + "Device 'missing-nic' not found");

            assertThatThrownBy(() -> client.execute("device_del", NODES.objectNode()))
                    .hasMessage("QMP command 'device_del' failed: GenericError: Parameter 'id' is missing");
            assertThatThrownBy(() -> client.execute("query-status", NODES.objectNode().put("bogus", 1)))
                    .hasMessage("QMP command 'query-status' failed: GenericError: Parameter 'bogus' is unexpected");

            assertThat(client.execute("query-status").path("status").asText()).isEqualTo("prelaunch");
            assertThatThrownBy(() -> client.execute("qmp_capabilities"))
                    .isInstanceOfSatisfying(QmpCommandException.class,
                            e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));
            assertThat(client.isOpen()).isTrue();
        }
    }

    @Test
    void eventsBeforeACommandsReplyAreDeliveredInOrderAndTheReplyIsStillMatched() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "lifecycle.qmp");
             QmpClient client = connect(server)) {
            playLifecycle(client);

            QmpEvent firstResume = listener.nextEvent();
            assertThat(firstResume.name()).isEqualTo("RESUME");
            assertThat(firstResume.data().isEmpty()).as("RESUME carries no data").isTrue();
            assertThat(firstResume.timestamp()).isEqualTo(recordedTimestampOfFirst("lifecycle.qmp", "RESUME"));
            assertThat(listener.nextEventNames(3)).containsExactly("STOP", "RESUME", "SHUTDOWN");
            assertThat(listener.deliveryThreads()).allMatch(name -> name.startsWith("qmp-events-"));
        }
    }

    @Test
    void quitDeliversShutdownThenOnCloseOnce() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "lifecycle.qmp");
             QmpClient client = connect(server)) {
            playLifecycle(client);

            assertThat(listener.nextEventNames(4)).endsWith("SHUTDOWN");
            Throwable cause = listener.awaitClose();
            assertThat(cause).isInstanceOf(QmpClosedException.class).hasMessageContaining("closed by QEMU");
            assertThat(client.isOpen()).isFalse();
            client.close();
            Thread.sleep(100);
            assertThat(listener.closeCount()).isEqualTo(1);
        }
    }

    @Test
    void shutdownEventCarriesItsData() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "lifecycle.qmp");
             QmpClient client = connect(server)) {
            playLifecycle(client);

            listener.nextEventNames(3);
            QmpEvent shutdown = listener.nextEvent();
            assertThat(shutdown.name()).isEqualTo("SHUTDOWN");
            assertThat(shutdown.data().path("reason").asText()).isEqualTo("host-qmp-quit");
            assertThat(shutdown.data().path("guest").asBoolean(true)).isFalse();
        }
    }

    /** The commands of lifecycle.qmp, checking the replies that are not events. */
    private static void playLifecycle(QmpClient client) throws Exception {
        assertThat(client.execute("query-status").path("status").asText()).isEqualTo("prelaunch");
        assertThat(client.execute("stop").isEmpty()).isTrue();
        assertThat(client.execute("query-status").path("status").asText()).isEqualTo("prelaunch");
        assertThat(client.execute("cont").isEmpty()).as("cont's reply, not the RESUME before it").isTrue();
        assertThat(client.execute("query-status").path("status").asText()).isEqualTo("running");
        client.execute("stop");
        assertThat(client.execute("query-status").path("status").asText()).isEqualTo("paused");
        client.execute("cont");
        assertThat(client.execute("quit").isEmpty()).isTrue();
    }

    @Test
    void timedOutCommandThrowsAndTheClientStaysUsable() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "late-reply.qmp");
             QmpClient client = connect(server)) {
            client.silentAfter(Duration.ZERO);
            QmpTimeoutException timeout = catchThrowableOfType(QmpTimeoutException.class,
                    () -> client.execute("query-status", Duration.ofMillis(300)));
            assertThat(timeout.command()).isEqualTo("query-status");
            assertThat(timeout.timeout()).isEqualTo(Duration.ofMillis(300));
            assertThat(timeout).hasMessage("QMP command 'query-status' got no response from " + socket()
                    + " within 300 ms");
            assertThat(client.isSilent()).isTrue();

            // The late query-status reply arrives first and must not be taken for this one.
            JsonNode version = client.execute("query-version");
            assertThat(version.has("qemu")).isTrue();
            assertThat(client.isOpen()).isTrue();
            assertThat(client.isSilent()).as("QEMU answered again").isFalse();
            assertThat(listener.awaitSilenceAndAnswer()).containsExactly("silent: query-status (300 ms)", "answering");
        }
    }

    @Test
    void interruptedCallerStopsWaitingAndTheClientStaysUsable() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "late-reply.qmp");
             QmpClient client = connect(server)) {
            AtomicReference<Throwable> outcome = new AtomicReference<>();
            Thread caller = new Thread(() -> {
                try {
                    client.execute("query-status", Duration.ofSeconds(30));
                } catch (Throwable e) {
                    outcome.set(e);
                }
            });
            caller.start();
            Thread.sleep(200);
            caller.interrupt();
            caller.join(5_000);

            assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
            // Writes happen on the writer thread, so the interrupt did not close the shared socket.
            assertThat(client.execute("query-version").has("qemu")).isTrue();
        }
    }

    @Test
    void workerDyingFailsThePendingCommandAtOnceAndCallsOnCloseOnce() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "dies-mid-command.qmp");
             QmpClient client = connect(server)) {
            Instant start = Instant.now();
            QmpClosedException closed = catchThrowableOfType(QmpClosedException.class,
                    () -> client.execute("query-status", Duration.ofSeconds(30)));
            assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(5));
            assertThat(closed).hasMessageStartingWith("QMP command 'query-status' got no reply: the connection to "
                    + socket() + " was closed by QEMU");

            assertThat(listener.awaitClose()).isInstanceOf(QmpClosedException.class);
            client.close();
            Thread.sleep(100);
            assertThat(listener.closeCount()).isEqualTo(1);
        }
    }

    @Test
    void commandsAfterTheWorkerDiedFailImmediately() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "worker-died.qmp");
             QmpClient client = connect(server)) {
            assertThat(client.execute("query-status").path("status").asText()).isEqualTo("prelaunch");
            listener.awaitClose();

            Instant start = Instant.now();
            assertThatThrownBy(() -> client.execute("cont", Duration.ofSeconds(30)))
                    .isInstanceOf(QmpClosedException.class)
                    .hasMessageStartingWith("QMP command 'cont' not sent: the connection to " + socket()
                            + " was closed by QEMU");
            assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(1));
        }
    }

    @Test
    void closeFailsPendingCommandsAndTellsTheListenerWithoutCause() throws Exception {
        CountDownLatch commandArrived = new CountDownLatch(1);
        FakeQmpServer.Conversation silentAfterHandshake = peer -> {
            answerHandshake(peer);
            assertThat(peer.receive().get("execute").asText()).isEqualTo("query-status");
            commandArrived.countDown();
            assertThat(peer.receive()).isNull();
        };
        try (FakeQmpServer server = FakeQmpServer.start(socket(), silentAfterHandshake)) {
            QmpClient client = connect(server);
            Thread closer = new Thread(() -> {
                try {
                    commandArrived.await();
                    client.close();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            closer.start();
            assertThatThrownBy(() -> client.execute("query-status", Duration.ofSeconds(30)))
                    .isInstanceOf(QmpClosedException.class)
                    .hasMessageContaining("closed by the client");
            closer.join();

            assertThat(listener.awaitClose()).isNull();
            client.close();
            Thread.sleep(100);
            assertThat(listener.closeCount()).isEqualTo(1);
        }
    }

    /**
     * A stopped worker's QMP socket: listening (backlog 1, as QEMU's), never accepting. The kernel queues
     * two connections; the third connect blocks in the kernel, and must still end at the deadline.
     */
    @Test
    void connectEndsAtItsDeadlineWhenAStoppedWorkersQueueIsFull() throws Exception {
        try (ServerSocketChannel stopped = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stopped.bind(UnixDomainSocketAddress.of(socket()), 1);
            List<SocketChannel> queued = List.of(SocketChannel.open(UnixDomainSocketAddress.of(socket())),
                    SocketChannel.open(UnixDomainSocketAddress.of(socket())));
            Instant start = Instant.now();
            assertThatThrownBy(() -> QmpClient.connect(socket(), Duration.ofMillis(500), listener))
                    .isInstanceOf(QmpConnectException.class)
                    .hasMessageContaining("did not accept a connection in time");
            assertThat(Duration.between(start, Instant.now())).isBetween(Duration.ofMillis(500), Duration.ofSeconds(3));
            for (SocketChannel q : queued) {
                q.close();
            }
        }
    }

    @Test
    void connectFailsClearlyWhenTheSocketNeverAppears() {
        Path missing = dir.resolve("never.sock");
        Instant start = Instant.now();
        assertThatThrownBy(() -> QmpClient.connect(missing, Duration.ofMillis(400), listener))
                .isInstanceOfSatisfying(QmpConnectException.class, e -> assertThat(e.socket()).isEqualTo(missing))
                .hasMessageStartingWith("cannot open QMP session on " + missing
                        + ": the socket did not accept a connection in time");
        Duration waited = Duration.between(start, Instant.now());
        assertThat(waited).isBetween(Duration.ofMillis(400), Duration.ofSeconds(3));
        assertThat(listener.closeCount()).isZero();
    }

    @Test
    void connectWaitsForTheSocketToAppear() throws Exception {
        ExecutorService background = Executors.newSingleThreadExecutor();
        try {
            Future<QmpClient> connecting = background.submit(
                    () -> QmpClient.connect(socket(), CONNECT_TIMEOUT, listener));
            Thread.sleep(300);
            try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "handshake.qmp");
                 QmpClient client = connecting.get()) {
                assertThat(client.qemuVersion().major()).isEqualTo(7);
                client.execute("query-version");
                client.execute("query-status");
            }
        } finally {
            background.shutdownNow();
        }
    }

    @Test
    void connectFailsWhenTheServerNeverGreets() throws Exception {
        // What QEMU does to a second client while another one holds its QMP monitor.
        FakeQmpServer.Conversation mute = peer -> assertThat(peer.receive()).isNull();
        try (FakeQmpServer server = FakeQmpServer.start(socket(), mute)) {
            assertThatThrownBy(() -> QmpClient.connect(socket(), Duration.ofMillis(400), listener))
                    .isInstanceOf(QmpConnectException.class)
                    .hasMessageContaining(socket().toString())
                    .hasMessageContaining("sent no greeting before the 400 ms timeout");
        }
        assertThat(listener.closeCount()).as("a session that never opened does not close").isZero();
    }

    @Test
    void connectFailsWhenThePeerDoesNotSpeakQmp() throws Exception {
        FakeQmpServer.Conversation ssh = peer -> {
            peer.send("SSH-2.0-OpenSSH_9.2p1 Debian-2");
            assertThat(peer.receive()).isNull();
        };
        try (FakeQmpServer server = FakeQmpServer.start(socket(), ssh)) {
            assertThatThrownBy(() -> QmpClient.connect(socket(), CONNECT_TIMEOUT, listener))
                    .isInstanceOf(QmpConnectException.class)
                    .hasMessageStartingWith("cannot open QMP session on " + socket() + ": no QMP greeting");
        }
    }

    @Test
    void concurrentCommandsEachGetTheirOwnReply() throws Exception {
        int threads = 8;
        List<Integer> sentOrder = Collections.synchronizedList(new ArrayList<>());
        FakeQmpServer.Conversation answerInReverse = peer -> {
            answerHandshake(peer);
            List<JsonNode> requests = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                requests.add(peer.receive());
            }
            assertThat(new HashSet<>(requests.stream().map(request -> request.get("id")).toList())).hasSize(threads);
            Collections.reverse(requests);
            for (JsonNode request : requests) {
                int n = request.path("arguments").path("n").asInt();
                sentOrder.add(n);
                peer.send("{\"timestamp\": {\"seconds\": 1795570400, \"microseconds\": " + n
                        + "}, \"event\": \"TICK\", \"data\": {\"n\": " + n + "}}");
                peer.send("{\"return\": {\"n\": " + n + "}, \"id\": " + request.get("id") + "}");
            }
            assertThat(peer.receive()).isNull();
        };
        ExecutorService callers = Executors.newFixedThreadPool(threads);
        try (FakeQmpServer server = FakeQmpServer.start(socket(), answerInReverse);
             QmpClient client = connect(server)) {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Integer>> replies = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                ObjectNode arguments = NODES.objectNode().put("n", i);
                Callable<Integer> call = () -> {
                    go.await();
                    return client.execute("echo", arguments).path("n").asInt();
                };
                replies.add(callers.submit(call));
            }
            go.countDown();
            for (int i = 0; i < threads; i++) {
                assertThat(replies.get(i).get()).isEqualTo(i);
            }
            List<Integer> eventOrder = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                eventOrder.add(listener.nextEvent().data().path("n").asInt());
            }
            assertThat(eventOrder).as("events in the order the server sent them").isEqualTo(sentOrder);
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void aThrowingListenerDoesNotStopEventsOrReplies() throws Exception {
        RecordingListener throwing = new RecordingListener() {
            @Override
            public void onEvent(QmpEvent event) {
                super.onEvent(event);
                throw new IllegalStateException("listener bug, on purpose");
            }
        };
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "lifecycle.qmp");
             QmpClient client = QmpClient.connect(socket(), CONNECT_TIMEOUT, throwing)) {
            playLifecycle(client);
            assertThat(throwing.nextEventNames(4)).containsExactly("RESUME", "STOP", "RESUME", "SHUTDOWN");
            throwing.awaitClose();
        }
    }

    @Test
    void listenerMayRunCommandsFromOnEvent() throws Exception {
        FakeQmpServer.Conversation stopOnItsOwn = peer -> {
            answerHandshake(peer);
            peer.send("{\"timestamp\": {\"seconds\": 1795570401, \"microseconds\": 874835}, \"event\": \"STOP\"}");
            JsonNode query = peer.receive();
            assertThat(query.get("execute").asText()).isEqualTo("query-status");
            peer.send("{\"return\": {\"status\": \"paused\", \"singlestep\": false, \"running\": false}, \"id\": "
                    + query.get("id") + "}");
            assertThat(peer.receive()).isNull();
        };
        AtomicReference<String> statusSeenByListener = new AtomicReference<>();
        AtomicReference<QmpClient> clientRef = new AtomicReference<>();
        CountDownLatch asked = new CountDownLatch(1);
        QmpListener asking = new QmpListener() {
            @Override
            public void onEvent(QmpEvent event) {
                try {
                    while (clientRef.get() == null) {
                        Thread.onSpinWait();
                    }
                    statusSeenByListener.set(clientRef.get().execute("query-status").path("status").asText());
                } catch (QmpException | InterruptedException e) {
                    statusSeenByListener.set(e.toString());
                } finally {
                    asked.countDown();
                }
            }

            @Override
            public void onClose(Throwable causeOrNull) {
            }
        };
        try (FakeQmpServer server = FakeQmpServer.start(socket(), stopOnItsOwn);
             QmpClient client = QmpClient.connect(socket(), CONNECT_TIMEOUT, asking)) {
            clientRef.set(client);
            assertThat(asked.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(statusSeenByListener.get()).isEqualTo("paused");
        }
    }

    @Test
    void threadsAreDaemonsNamedAfterTheSocketAndEndAfterClose() throws Exception {
        String suffix = dir.getFileName() + "/qmp.sock";
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "handshake.qmp")) {
            QmpClient client = connect(server);
            List<Thread> ours = threadsEndingWith(suffix);
            assertThat(ours).extracting(Thread::getName)
                    .contains("qmp-reader-" + suffix, "qmp-writer-" + suffix);
            assertThat(ours).allMatch(Thread::isDaemon);
            client.execute("query-version");
            client.execute("query-status");

            client.close();
            Instant deadline = Instant.now().plusSeconds(5);
            while (!threadsEndingWith(suffix).isEmpty() && Instant.now().isBefore(deadline)) {
                Thread.sleep(20);
            }
            assertThat(threadsEndingWith(suffix)).isEmpty();
        }
    }

    @Test
    void rejectsTimeoutsThatAreNotPositive() throws Exception {
        try (FakeQmpServer server = FakeQmpServer.replaying(socket(), "handshake.qmp");
             QmpClient client = connect(server)) {
            assertThatThrownBy(() -> client.execute("query-status", Duration.ZERO))
                    .isInstanceOf(IllegalArgumentException.class);
            client.execute("query-version");
            client.execute("query-status");
        }
    }

    private static List<Thread> threadsEndingWith(String suffix) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.getName().startsWith("qmp-") && thread.getName().endsWith(suffix))
                .toList();
    }

    private static void answerHandshake(FakeQmpServer.Peer peer) throws Exception {
        peer.send(Transcript.load("handshake.qmp").greeting());
        JsonNode negotiation = peer.receive();
        assertThat(negotiation.get("execute").asText()).isEqualTo("qmp_capabilities");
        peer.send("{\"return\": {}, \"id\": " + negotiation.get("id") + "}");
    }

    private static Instant recordedTimestampOfFirst(String transcript, String event) {
        JsonNode recorded = Transcript.load(transcript).serverMessages().stream()
                .filter(message -> event.equals(message.path("event").asText()))
                .findFirst()
                .orElseThrow();
        return Instant.ofEpochSecond(recorded.path("timestamp").path("seconds").asLong(),
                recorded.path("timestamp").path("microseconds").asLong() * 1_000);
    }
}
