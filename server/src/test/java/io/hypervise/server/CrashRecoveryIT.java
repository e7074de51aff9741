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
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged server made to die (halted, as by kill -9) between the steps of creating a VM, running
 * a job and deleting a VM, then started again over the same data: each time the inventory and the
 * engine agree afterwards, the VM has its rightful owner or is gone without a trace, the job says it
 * was interrupted, and the audit log tells what was asked and how it ended.
 */
class CrashRecoveryIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();
    private Path dataDir;
    private int port;
    private PackagedServer server;

    @BeforeEach
    void folder() throws IOException {
        dataDir = Files.createTempDirectory(Path.of("/tmp"), "hvc",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (server != null) {
            server.kill();
        }
        assertThat(LeftoverProcesses.mentioningAfter(dataDir, Duration.ofSeconds(20))).isEmpty();
        TemporaryDataDir.delete(dataDir);
    }

    @Test
    void creationsDeletionsAndJobsInterruptedByACrashAreSettledAtTheNextStart() throws Exception {
        start("vm.create.recorded");
        crashes("POST", "/api/v1/vms", "{\"template\":\"tiny-linux\",\"name\":\"undone\",\"disks\":[{\"sizeMib\":16,\"format\":\"qcow2\"}]}");

        start("vm.create.defined");
        String undone = createdId("undone");
        assertThat(status("GET", "/api/v1/vms/" + undone)).as("a creation the engine never saw is undone").isEqualTo(404);
        assertThat(dataDir.resolve("storage/vms/" + undone)).doesNotExist();
        assertThat(dataDir.resolve("state/vms/" + undone)).doesNotExist();
        assertThat(outcomes(undone, "vm.create")).containsExactly("FAILED by system", "REQUESTED by alice");

        crashes("POST", "/api/v1/vms", "{\"template\":\"tiny-linux\",\"name\":\"kept\",\"disks\":[{\"sizeMib\":16,\"format\":\"qcow2\"}]}");
        start("job.running");
        String kept = createdId("kept");
        JsonNode vm = call("GET", "/api/v1/vms/" + kept, null);
        assertThat(vm.path("owner").asText()).as("still hers, in her sight and her quota").isEqualTo("alice");
        assertThat(vm.path("state").asText()).isEqualTo("Off");
        Path disk = Path.of(vm.path("disks").path(0).path("path").asText());
        assertThat(disk).isRegularFile().startsWith(dataDir.resolve("storage/vms/" + kept));
        assertThat(call("GET", "/api/v1/vms?name=kept", null).path("items").findValuesAsText("id")).containsExactly(kept);
        assertThat(outcomes(kept, "vm.create")).containsExactly("SUCCEEDED by system", "REQUESTED by alice");

        crashes("POST", "/api/v1/vms/" + kept + "/start", null);
        start("vm.delete.recorded");
        JsonNode jobs = call("GET", "/api/v1/jobs?vm=" + kept, null).path("items");
        assertThat(jobs.size()).isEqualTo(1);
        assertThat(jobs.path(0).path("state").asText()).as("not running forever").isEqualTo("failed");
        assertThat(jobs.path(0).path("error").asText()).contains("stopped while the job was running");
        assertThat(call("GET", "/api/v1/vms/" + kept, null).path("state").asText()).isEqualTo("Off");
        assertThat(outcomes(kept, "vm.start")).containsExactly("FAILED by system", "REQUESTED by alice");

        crashes("DELETE", "/api/v1/vms/" + kept, null);
        start("");
        assertThat(status("GET", "/api/v1/vms/" + kept)).as("a deletion begun is finished").isEqualTo(404);
        assertThat(disk).doesNotExist();
        assertThat(dataDir.resolve("state/vms/" + kept)).doesNotExist();
        assertThat(outcomes(kept, "vm.delete")).containsExactly("SUCCEEDED by system", "REQUESTED by alice");
        assertThat(call("GET", "/api/v1/audit/verify", null, "auditor").path("intact").asBoolean()).isTrue();
    }

    private void start(String crashAt) throws Exception {
        server = new PackagedServer(dataDir, "quarkus.http.port=" + port,
                "hypervise.keycloak.realm-url=" + KeycloakTestResource.realmUrl(), "hypervise.demo-policies.enabled=true",
                "hypervise.crash-at=" + crashAt);
        server.start();
    }

    /** Sends the request, which makes the server halt at its crash point; the answer, if any came first, is ignored. */
    private void crashes(String method, String path, String body) throws Exception {
        try {
            send(method, path, body, "alice");
        } catch (IOException expected) {
            // the server died before it could answer
        }
        assertThat(server.awaitExit()).as("halted at the crash point").isEqualTo(137);
        assertThat(server.outputSinceStart()).contains("crash point");
    }

    /** The id of the VM created with this name, as the audit log recorded the request. */
    private String createdId(String name) throws Exception {
        for (JsonNode entry : call("GET", "/api/v1/audit?action=vm.create&size=100", null, "auditor").path("items")) {
            if (entry.path("parameters").path("name").asText().equals(name)) {
                return entry.path("target").asText().substring("vm:".length());
            }
        }
        throw new AssertionError("no vm.create entry names " + name);
    }

    /** The audit entries of an action on a VM, newest first, as "OUTCOME by actor". */
    private List<String> outcomes(String id, String action) throws Exception {
        List<String> found = new ArrayList<>();
        for (JsonNode entry : call("GET", "/api/v1/audit?target=vm:" + id + "&action=" + action, null, "auditor").path("items")) {
            found.add(entry.path("outcome").asText() + " by " + entry.path("actor").asText());
        }
        return found;
    }

    private JsonNode call(String method, String path, String body) throws Exception {
        return call(method, path, body, "alice");
    }

    private JsonNode call(String method, String path, String body, String user) throws Exception {
        HttpResponse<String> response = send(method, path, body, user);
        assertThat(response.statusCode()).as("%s %s: %s", method, path, response.body()).isBetween(200, 299);
        return JSON.readTree(response.body());
    }

    private int status(String method, String path) throws Exception {
        return send(method, path, null, "alice").statusCode();
    }

    private HttpResponse<String> send(String method, String path, String body, String user) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(120))
                .header("Authorization", "Bearer " + Tokens.accessToken(user))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }
}
