package io.hypervise.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What becomes of a call to another host's server, against real sockets on 127.0.0.1: each failure is a problem
 * that names the host and says what failed, with the status the asking server answers its own caller with.
 */
class PeerCallTest {

    private final PeerCall call = new PeerCall(Duration.ofSeconds(2));
    private final CountDownLatch release = new CountDownLatch(1);
    private HttpServer peer;
    private final AtomicReference<String> authorization = new AtomicReference<>();

    @BeforeEach
    void startPeer() throws IOException {
        peer = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        peer.createContext("/ok", exchange -> answer(exchange, 200, "{\"vm\":\"v\",\"state\":\"RUNNING\"}"));
        peer.createContext("/conflict", exchange -> answer(exchange, 409,
                "{\"type\":\"about:blank\",\"status\":409,\"detail\":\"cannot pause VM 'web-1' while it is Off\"}"));
        peer.createContext("/forbidden", exchange -> answer(exchange, 403, "{\"status\":403,\"detail\":\"no role\"}"));
        peer.createContext("/broken", exchange -> answer(exchange, 500, "it broke"));
        peer.createContext("/silent", exchange -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            answer(exchange, 200, "{}");
        });
        peer.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        peer.start();
    }

    @AfterEach
    void stopPeer() {
        release.countDown();
        peer.stop(0);
    }

    private void answer(com.sun.net.httpserver.HttpExchange exchange, int status, String body) throws IOException {
        authorization.set(exchange.getRequestHeaders().getFirst("Authorization"));
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/problem+json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private PeerCall.Peer b() {
        return new PeerCall.Peer("host-b", "http://127.0.0.1:" + peer.getAddress().getPort());
    }

    private PeerException failure(PeerCall.Peer to, String path, Duration timeout) {
        return catchThrowableOfType(PeerException.class,
                () -> call.send(to, "POST", path, "{}", "the-token", timeout, "pause VM web-1"));
    }

    @Test
    void anAnswerIsReturnedAndTheServiceTokenWasSent() {
        assertThat(call.send(b(), "POST", "/ok", "{}", "the-token", Duration.ofSeconds(5), "start VM web-1"))
                .contains("RUNNING");
        assertThat(authorization.get()).isEqualTo("Bearer the-token");
    }

    @Test
    void aServerThatIsNotListeningIsUnreachable() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        PeerException e = failure(new PeerCall.Peer("host-b", "http://127.0.0.1:" + closed), "/ok", Duration.ofSeconds(5));
        assertThat(e.status()).isEqualTo(503);
        assertThat(e.failure()).isEqualTo(PeerException.Failure.UNREACHABLE);
        assertThat(e.detail()).startsWith("host host-b's server at http://127.0.0.1:" + closed).contains("pause VM web-1",
                "connection refused");
        assertThat(e.extensions().get("host")).isEqualTo("host-b");
        assertThat(e.extensions().get("failure")).isEqualTo("unreachable");
    }

    @Test
    void aServerThatDoesNotAnswerInTimeIsA504() {
        long started = System.nanoTime();
        PeerException e = failure(b(), "/silent", Duration.ofMillis(500));
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        assertThat(e.status()).isEqualTo(504);
        assertThat(e.failure()).isEqualTo(PeerException.Failure.TIMED_OUT);
        assertThat(e.detail()).contains("host host-b's server", "did not answer within 500 ms", "pause VM web-1");
    }

    @Test
    void aPeersRefusalKeepsItsStatusAndRepeatsItsReason() {
        PeerException e = failure(b(), "/conflict", Duration.ofSeconds(5));
        assertThat(e.status()).isEqualTo(409);
        assertThat(e.failure()).isEqualTo(PeerException.Failure.REFUSED);
        assertThat(e.detail()).isEqualTo("host host-b's server refused to pause VM web-1: cannot pause VM 'web-1' while it is Off");
    }

    @Test
    void aRefusedServiceIdentityIsTheClustersFaultNotTheCallers() {
        PeerException e = failure(b(), "/forbidden", Duration.ofSeconds(5));
        assertThat(e.status()).isEqualTo(502);
        assertThat(e.failure()).isEqualTo(PeerException.Failure.IDENTITY_REFUSED);
        assertThat(e.detail()).contains("host host-b's server refused this server's service identity (403: no role)",
                "hypervise-host");
    }

    @Test
    void aPeerThatFailsIsABadGatewayWithWhatItSaid() {
        PeerException e = failure(b(), "/broken", Duration.ofSeconds(5));
        assertThat(e.status()).isEqualTo(502);
        assertThat(e.failure()).isEqualTo(PeerException.Failure.FAILED);
        assertThat(e.detail()).isEqualTo("host host-b's server failed to pause VM web-1 (500): it broke");
    }
}
