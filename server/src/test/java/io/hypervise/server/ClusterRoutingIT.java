package io.hypervise.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.LeftoverProcesses;
import io.hypervise.server.testing.PackagedServer;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import java.io.IOException;
import java.io.Reader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Any server answers for the whole cluster: a VM host B owns is started, read and turned off through host A's
 * server, which decides and audits while B's server carries it out (server to server, as the hosts' service
 * identity, which no person holds). When B's server is gone, A says so, naming host B, and the log records it.
 */
class ClusterRoutingIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();
    private Path dataA;
    private Path dataB;
    private PackagedServer a;
    private PackagedServer b;
    private int portA;
    private int portB;

    @AfterEach
    void cleanUp() throws Exception {
        for (PackagedServer s : new PackagedServer[] {b, a}) {
            if (s != null) {
                s.kill();
            }
        }
        for (Path dir : new Path[] {dataA, dataB}) {
            if (dir == null) {
                continue;
            }
            // Workers outlive their server: a test that failed half-way may leave one of this folder's running.
            String marker = dir.toString();
            for (ProcessHandle p : ProcessHandle.allProcesses()
                    .filter(p -> p.info().arguments().map(x -> String.join(" ", x).contains(marker)).orElse(false)).toList()) {
                p.destroyForcibly();
                p.onExit().get();
            }
            assertThat(LeftoverProcesses.mentioningAfter(dir, Duration.ofSeconds(20))).isEmpty();
            TemporaryDataDir.delete(dir);
        }
    }

    @Test
    void aVmOfHostBIsStartedReadAndTurnedOffThroughHostAsServer() throws Exception {
        startBothServers();
        String vm = call(portB, "POST", "/api/v1/vms", 201, "{\"template\":\"tiny-linux\",\"name\":\"on-b\"}").path("id").asText();
        assertThat(call(portA, "GET", "/api/v1/vms/" + vm, 200).path("host").asText()).isEqualTo("host-b");

        // Started through A: A's job follows it, B's engine runs it, and the guest boots there.
        String job = call(portA, "POST", "/api/v1/vms/" + vm + "/start", 202).path("id").asText();
        awaitJob(portA, job);
        awaitSerial(portA, vm, "HYPERVISE-READY");
        assertThat(text(portB, "/api/v1/vms/" + vm + "/serial?lines=10000")).contains("HYPERVISE-READY");
        JsonNode onB = call(portB, "GET", "/api/v1/vms/" + vm, 200);
        assertThat(onB.path("state").asText()).isEqualTo("Running");
        long worker = onB.path("workerPid").asLong();
        assertThat(Files.readString(Path.of("/proc/" + worker + "/cmdline")).replace('\0', ' '))
                .as("the worker is host B's").contains(dataB.toString()).doesNotContain(dataA.toString());
        assertThat(call(portA, "GET", "/api/v1/vms/" + vm, 200).path("state").asText()).isEqualTo("Running");

        // A decided and audited: the intent and the outcome are A's entries, naming the host that carried it out.
        List<JsonNode> started = audit(portA, "vm.start", vm);
        assertThat(started).extracting(e -> e.path("outcome").asText()).containsExactly("SUCCEEDED", "REQUESTED");
        assertThat(started.getFirst().path("actor").asText()).isEqualTo("admin");
        assertThat(started.getFirst().path("parameters").path("host").asText()).isEqualTo("host-b");

        // The internal API is the hosts' alone: every person's role is refused on either server, whatever the VM.
        for (String user : List.of("admin", "operator", "auditor", "alice")) {
            for (int port : new int[] {portA, portB}) {
                assertThat(internal(port, Tokens.accessToken(user), vm, "TURN_OFF").statusCode()).as("%s on %d", user, port)
                        .isEqualTo(403);
            }
        }
        String service = Tokens.serviceToken();
        assertThat(Tokens.claims(service).path("realm_access").path("roles").toString()).contains("hypervise-host");
        // The hosts' identity reaches it, but A does not carry out what B owns, and only lifecycle operations cross.
        HttpResponse<String> notMine = internal(portA, service, vm, "TURN_OFF");
        assertThat(notMine.statusCode()).as(notMine.body()).isEqualTo(409);
        assertThat(JSON.readTree(notMine.body()).path("detail").asText()).contains("is on host host-b", "not on host-a");
        HttpResponse<String> notLifecycle = internal(portB, service, vm, "DELETE");
        assertThat(notLifecycle.statusCode()).as(notLifecycle.body()).isEqualTo(400);
        assertThat(notLifecycle.body()).contains("\"operation\"", "TURN_OFF");
        assertThat(call(portB, "GET", "/api/v1/vms/" + vm, 200).path("state").asText()).isEqualTo("Running");

        // Turned off through A: done before the answer, and the worker on B is gone.
        assertThat(call(portA, "POST", "/api/v1/vms/" + vm + "/turn-off", 200).path("state").asText()).isEqualTo("Off");
        Instant ended = Instant.now().plusSeconds(15);
        while (ProcessHandle.of(worker).map(ProcessHandle::isAlive).orElse(false)) {
            assertThat(Instant.now()).as("B's worker %d ended within 15 s of the turn-off", worker).isBefore(ended);
            Thread.sleep(100);
        }
        assertThat(call(portB, "GET", "/api/v1/vms/" + vm, 200).path("state").asText()).isEqualTo("Off");
        // A state the owner's record does not allow is refused at once, as for a VM of A's own.
        assertThat(call(portA, "POST", "/api/v1/vms/" + vm + "/pause", 409).path("detail").asText())
                .startsWith("cannot pause VM 'on-b' while it is Off");

        // B's server dies: A answers for B's VM with a problem naming host B: at once unreachable, and once B's
        // lease has expired by the database's clock, not live; its log records the refused operation.
        b.kill();
        HttpResponse<String> unreachable = get(portA, "/api/v1/vms/" + vm + "/serial");
        assertThat(unreachable.statusCode()).as(unreachable.body()).isEqualTo(503);
        assertThat(JSON.readTree(unreachable.body()).path("failure").asText()).isEqualTo("unreachable");
        assertThat(JSON.readTree(unreachable.body()).path("detail").asText()).startsWith("host host-b's server at http://127.0.0.1:"
                + portB).contains("connection refused");
        Instant deadline = Instant.now().plusSeconds(30);
        while (!call(portA, "GET", "/api/v1/hosts/host-b", 200).path("lease").path("state").asText().equals("expired")) {
            assertThat(Instant.now()).as("host-b's lease expired within 30 s of its server's death").isBefore(deadline);
            Thread.sleep(500);
        }
        JsonNode down = call(portA, "POST", "/api/v1/vms/" + vm + "/start", 503);
        assertThat(down.path("host").asText()).isEqualTo("host-b");
        assertThat(down.path("failure").asText()).isEqualTo("not-live");
        assertThat(down.path("detail").asText()).startsWith("host host-b's lease expired at ");
        List<JsonNode> failed = audit(portA, "vm.start", vm);
        assertThat(failed.getFirst().path("outcome").asText()).isEqualTo("FAILED");
        assertThat(failed.getFirst().path("actor").asText()).isEqualTo("admin");
        assertThat(failed.getFirst().path("reason").asText()).isEqualTo(down.path("detail").asText());
        assertThat(a.output() + b.output()).doesNotContain("unexpected error");
    }

    private void startBothServers() throws Exception {
        dataA = folder("hva");
        dataB = folder("hvb");
        portA = freePort();
        portB = freePort();
        int database = freePort();
        a = new PackagedServer(dataA, "quarkus.http.port=" + portA, "hypervise.host-id=host-a",
                "hypervise.database.embedded.port=" + database,
                "hypervise.keycloak.realm-url=" + KeycloakTestResource.realmUrl());
        a.start();
        Properties credentials = new Properties();
        try (Reader r = Files.newBufferedReader(dataA.resolve("postgres/credentials.properties"))) {
            credentials.load(r);
        }
        b = new PackagedServer(dataB, "quarkus.http.port=" + portB, "hypervise.host-id=host-b",
                "quarkus.datasource.jdbc.url=jdbc:postgresql://127.0.0.1:" + database + "/hypervise",
                "quarkus.datasource.username=hypervise_app",
                "quarkus.datasource.password=" + credentials.getProperty("app.password"),
                "quarkus.flyway.username=hypervise",
                "quarkus.flyway.password=" + credentials.getProperty("owner.password"),
                "hypervise.keycloak.realm-url=" + KeycloakTestResource.realmUrl());
        b.start();
    }

    /** The log's entries for the action on the VM, newest first, as server {@code port} reads them. */
    private List<JsonNode> audit(int port, String action, String vm) throws Exception {
        JsonNode page = call(port, "GET", "/api/v1/audit?action=" + action + "&target=vm:" + vm, 200);
        List<JsonNode> entries = new java.util.ArrayList<>();
        page.path("items").forEach(entries::add);
        entries.sort((x, y) -> Long.compare(y.path("id").asLong(), x.path("id").asLong()));
        return entries;
    }

    private HttpResponse<String> internal(int port, String token, String vm, String operation) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/internal/vms/" + vm + "/operations"))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"operation\":\"" + operation + "\",\"requestedBy\":\"test\","
                        + "\"fromHost\":\"test\"}"))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private void awaitJob(int port, String job) throws Exception {
        Instant deadline = Instant.now().plusSeconds(120);
        while (Instant.now().isBefore(deadline)) {
            JsonNode state = call(port, "GET", "/api/v1/jobs/" + job, 200);
            if (state.path("state").asText().equals("succeeded")) {
                return;
            }
            assertThat(state.path("state").asText()).as("job %s: %s", job, state).isIn("queued", "running");
            Thread.sleep(200);
        }
        throw new AssertionError("job " + job + " did not end within 2 minutes");
    }

    private void awaitSerial(int port, String vm, String marker) throws Exception {
        Instant deadline = Instant.now().plusSeconds(120);
        while (Instant.now().isBefore(deadline)) {
            if (text(port, "/api/v1/vms/" + vm + "/serial?lines=10000").lines().anyMatch(marker::equals)) {
                return;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("the guest did not print " + marker + " within 2 minutes; its serial console:\n"
                + text(port, "/api/v1/vms/" + vm + "/serial?lines=10000"));
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + Tokens.accessToken("admin")).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private String text(int port, String path) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + Tokens.accessToken("admin")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("GET %s on %d: %s", path, port, response.body()).isEqualTo(200);
        return response.body();
    }

    private JsonNode call(int port, String method, String path, int expected) throws Exception {
        return call(port, method, path, expected, null);
    }

    private JsonNode call(int port, String method, String path, int expected, String body) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(180))
                .header("Authorization", "Bearer " + Tokens.accessToken("admin"))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("%s %s on %d: %s", method, path, port, response.body()).isEqualTo(expected);
        return response.body().isEmpty() || !response.body().startsWith("{") ? JSON.createObjectNode() : JSON.readTree(response.body());
    }

    private static Path folder(String prefix) throws IOException {
        return Files.createTempDirectory(Path.of("/tmp"), prefix,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
