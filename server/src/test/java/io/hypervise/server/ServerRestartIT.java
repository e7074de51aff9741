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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged server killed outright (SIGKILL) while a VM runs, then started again over the same
 * data: the VM is still running, the engine has re-attached to its worker, and the API and the
 * database both say so. The guest's counter shows it never stopped.
 */
class ServerRestartIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();
    private Path dataDir;
    private PackagedServer server;
    private int port;

    @BeforeEach
    void folder() throws IOException {
        dataDir = Files.createTempDirectory(Path.of("/tmp"), "hvr",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        server = new PackagedServer(dataDir, "quarkus.http.port=" + port,
                "hypervise.keycloak.realm-url=" + KeycloakTestResource.realmUrl(), "hypervise.demo-policies.enabled=true");
    }

    @AfterEach
    void cleanUp() throws Exception {
        server.kill();
        String marker = dataDir.toString();
        for (ProcessHandle p : ProcessHandle.allProcesses()
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains(marker)).orElse(false)).toList()) {
            p.destroyForcibly();
            p.onExit().get();
        }
        assertThat(LeftoverProcesses.mentioning(dataDir)).isEmpty();
        TemporaryDataDir.delete(dataDir);
    }

    @Test
    void aRunningVmSurvivesTheServerBeingKilledAndIsFoundRunningAfterwards() throws Exception {
        server.start();
        String id = call("POST", "/api/v1/vms", "{\"template\":\"tiny-linux\",\"name\":\"survivor\"}").path("id").asText();
        String job = call("POST", "/api/v1/vms/" + id + "/start", null).path("id").asText();
        awaitJob(job);
        JsonNode started = call("GET", "/api/v1/vms/" + id, null);
        assertThat(started.path("state").asText()).isEqualTo("Running");
        long pid = started.path("workerPid").asLong();
        long before = awaitCounter(id, 1);

        server.kill(); // SIGKILL: no shutdown hook, no goodbye
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("worker alive").isTrue();

        server.start();
        JsonNode after = call("GET", "/api/v1/vms/" + id, null);
        assertThat(after.path("state").asText()).isEqualTo("Running");
        assertThat(after.path("workerPid").asLong()).isEqualTo(pid);
        assertThat(after.path("reason").asText()).contains("re-attached to worker " + pid);
        assertThat(after.path("since").asText()).as("running since it started, not since the server came back")
                .isEqualTo(started.path("since").asText());
        JsonNode listed = call("GET", "/api/v1/vms?state=Running", null);
        assertThat(listed.path("items").findValuesAsText("id")).contains(id);
        assertThat(awaitCounter(id, before)).as("the guest's counter went on").isGreaterThan(before);

        assertThat(call("POST", "/api/v1/vms/" + id + "/turn-off", null).path("state").asText()).isEqualTo("Off");
    }

    private void awaitJob(String job) throws Exception {
        Instant deadline = Instant.now().plusSeconds(120);
        while (Instant.now().isBefore(deadline)) {
            JsonNode state = call("GET", "/api/v1/jobs/" + job, null);
            if (state.path("state").asText().equals("succeeded")) {
                return;
            }
            assertThat(state.path("state").asText()).as("job %s: %s", job, state).isIn("queued", "running");
            Thread.sleep(100);
        }
        throw new AssertionError("job " + job + " did not end");
    }

    private long awaitCounter(String id, long above) throws Exception {
        Instant deadline = Instant.now().plusSeconds(90);
        while (Instant.now().isBefore(deadline)) {
            String serial = text("/api/v1/vms/" + id + "/serial?lines=5");
            long last = serial.lines().filter(l -> l.startsWith("hv-counter "))
                    .mapToLong(l -> Long.parseLong(l.substring("hv-counter ".length()).trim())).max().orElse(-1);
            if (last > above) {
                return last;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("the guest's counter did not pass " + above);
    }

    private JsonNode call(String method, String path, String body) throws Exception {
        HttpResponse<String> response = http.send(request(path)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("%s %s: %s", method, path, response.body()).isBetween(200, 299);
        return JSON.readTree(response.body());
    }

    private String text(String path) throws Exception {
        return http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(120))
                .header("Authorization", "Bearer " + Tokens.accessToken("alice"));
    }
}
