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
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two hosts' servers, each with its own engine and data, on one PostgreSQL (the first one's): each
 * records what is its own (template files in its own library), creates VMs on itself without
 * disturbing the other, and refuses to delete a VM the other host runs, saying which host does. Each
 * sees both hosts' leases; when one server dies, the other sees its lease expire and may remove it.
 */
class TwoServersIT {

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
            if (dir != null) {
                assertThat(LeftoverProcesses.mentioningAfter(dir, Duration.ofSeconds(20))).isEmpty();
                TemporaryDataDir.delete(dir);
            }
        }
    }

    @Test
    void eachHostActsOnItsOwnVmsAndNeitherRewritesWhatIsTheOthers() throws Exception {
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

        // Each server answers for the whole cluster: both hosts hold live leases, each joined once, each reachable.
        for (int port : new int[] {portA, portB}) {
            JsonNode hosts = call(port, "GET", "/api/v1/hosts", 200).path("items");
            assertThat(hosts).as("hosts seen by the server at %d", port).hasSize(2);
            for (JsonNode host : hosts) {
                String id = host.path("id").asText();
                assertThat(host.path("lease").path("state").asText()).as("%s's lease", id).isEqualTo("live");
                assertThat(host.path("lease").path("epoch").asLong()).as("%s's epoch", id).isEqualTo(1);
                assertThat(host.path("address").asText()).isEqualTo("http://127.0.0.1:" + (id.equals("host-a") ? portA : portB));
            }
        }

        // Creations on both hosts, interleaved, all succeed; the shared template stays ready on both.
        String a1 = create(portA, "on-a-1");
        String b1 = create(portB, "on-b-1");
        String a2 = create(portA, "on-a-2");
        String b2 = create(portB, "on-b-2");
        for (int port : new int[] {portA, portB}) {
            JsonNode template = call(port, "GET", "/api/v1/templates/tiny-linux", 200);
            assertThat(template.path("ready").asBoolean()).as("tiny-linux ready on the server at %d", port).isTrue();
        }
        assertThat(call(portA, "GET", "/api/v1/vms/" + b1, 200).path("name").asText()).isEqualTo("on-b-1");
        Path diskB1 = Path.of(call(portB, "GET", "/api/v1/vms/" + b1, 200).path("disks").path(0).path("path").asText());
        assertThat(diskB1).isRegularFile().startsWith(dataB);

        // Host A's server does not delete host B's VM (only lifecycle operations and the serial console are passed
        // on to the owner's server: ClusterRoutingIT): it says which host has it, and changes nothing.
        for (String[] request : new String[][] {{"DELETE", "/api/v1/vms/" + b1}}) {
            JsonNode refused = call(portA, request[0], request[1], 409);
            assertThat(refused.path("detail").asText()).as("%s %s", request[0], request[1])
                    .contains("is on host host-b", "not on host-a");
        }
        assertThat(call(portB, "GET", "/api/v1/vms/" + b1, 200).path("state").asText()).isEqualTo("Off");
        assertThat(diskB1).isRegularFile();

        // Each host's own server deletes its own VMs, disks and all.
        for (String[] vm : new String[][] {{"A", a1}, {"A", a2}, {"B", b1}, {"B", b2}}) {
            call(vm[0].equals("A") ? portA : portB, "DELETE", "/api/v1/vms/" + vm[1], 204);
        }
        assertThat(diskB1).doesNotExist();
        assertThat(a.output() + b.output()).doesNotContain("OptimisticLock", "unexpected error");

        // Host B's server dies: A sees its lease expire by the database's clock (10 s after its last renewal),
        // refuses to remove it while it was live, and removes it once expired; B's row stays, as left.
        assertThat(call(portA, "DELETE", "/api/v1/hosts/host-b", 409).path("detail").asText())
                .startsWith("host 'host-b' holds a live lease");
        b.kill();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!call(portA, "GET", "/api/v1/hosts/host-b", 200).path("lease").path("state").asText().equals("expired")) {
            assertThat(System.nanoTime()).as("host-b's lease expired within 30 s of its server's death").isLessThan(deadline);
            Thread.sleep(500);
        }
        call(portA, "DELETE", "/api/v1/hosts/host-b", 204);
        JsonNode left = call(portA, "GET", "/api/v1/hosts/host-b", 200).path("lease");
        assertThat(left.path("state").asText()).isEqualTo("left");
        assertThat(left.path("epoch").asLong()).isEqualTo(2);
        assertThat(call(portA, "GET", "/api/v1/hosts/host-a", 200).path("lease").path("state").asText()).isEqualTo("live");
    }

    private String create(int port, String name) throws Exception {
        return call(port, "POST", "/api/v1/vms", 201, "{\"template\":\"tiny-linux\",\"name\":\"" + name
                + "\",\"disks\":[{\"sizeMib\":16,\"format\":\"qcow2\"}]}").path("id").asText();
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
