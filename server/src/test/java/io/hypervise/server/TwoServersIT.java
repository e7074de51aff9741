package io.hypervise.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.server.testing.HostNetwork;
import io.hypervise.server.testing.LeftoverProcesses;
import io.hypervise.server.testing.PackagedServer;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import java.io.IOException;
import java.io.Reader;
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
 * Two hosts, each a real server with its own engine and data in a network namespace of its own, on its own
 * address ({@link HostNetwork}): the second joins the first's PostgreSQL, which listens on the first host's
 * address. Each records what is its own (template files in its own library), creates VMs on itself without
 * disturbing the other, and refuses to delete a VM the other host runs, saying which host does (lifecycle
 * operations and the serial console are passed on to the owner: ClusterRoutingIT). Each sees both
 * hosts' leases, at their addresses. A host cut off from the network loses its lease as the other sees it, says
 * so itself, and has it again once plugged back; when one server dies, the other sees its lease expire and may
 * remove it.
 */
class TwoServersIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Each host's server and the first host's PostgreSQL listen on their namespace's address: any port is free there. */
    private static final int HTTP_PORT = 8080;
    private static final int DATABASE_PORT = 5432;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private HostNetwork network;
    private Path dataA;
    private Path dataB;
    private PackagedServer a;
    private PackagedServer b;
    private String urlA;
    private String urlB;

    @AfterEach
    void cleanUp() throws Exception {
        try {
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
        } finally {
            if (network != null) {
                network.close();
            }
        }
    }

    @Test
    void eachHostActsOnItsOwnVmsAndNeitherRewritesWhatIsTheOthers() throws Exception {
        network = HostNetwork.create();
        HostNetwork.Host hostA = network.addHost('a');
        HostNetwork.Host hostB = network.addHost('b');
        String realm = network.keycloakRealmUrl();
        dataA = folder("hva");
        dataB = folder("hvb");
        urlA = hostA.url(HTTP_PORT);
        urlB = hostB.url(HTTP_PORT);
        a = hostA.server(dataA, HTTP_PORT, "hypervise.host-id=host-a",
                "hypervise.database.embedded.port=" + DATABASE_PORT,
                "hypervise.database.embedded.listen-address=" + hostA.address(),
                "hypervise.keycloak.realm-url=" + realm);
        a.start();
        Properties credentials = new Properties();
        try (Reader r = Files.newBufferedReader(dataA.resolve("postgres/credentials.properties"))) {
            credentials.load(r);
        }
        b = hostB.server(dataB, HTTP_PORT, "hypervise.host-id=host-b",
                "quarkus.datasource.jdbc.url=jdbc:postgresql://" + hostA.address() + ":" + DATABASE_PORT + "/hypervise",
                "quarkus.datasource.username=hypervise_app",
                "quarkus.datasource.password=" + credentials.getProperty("app.password"),
                "quarkus.flyway.username=hypervise",
                "quarkus.flyway.password=" + credentials.getProperty("owner.password"),
                "hypervise.keycloak.realm-url=" + realm);
        b.start();

        // Each server answers for the whole cluster: both hosts hold live leases, each joined once, each reachable,
        // each lease row naming its host's own namespace address.
        for (String url : new String[] {urlA, urlB}) {
            JsonNode hosts = call(url, "GET", "/api/v1/hosts", 200).path("items");
            assertThat(hosts).as("hosts seen by the server at %s", url).hasSize(2);
            for (JsonNode host : hosts) {
                String id = host.path("id").asText();
                assertThat(host.path("lease").path("state").asText()).as("%s's lease", id).isEqualTo("live");
                assertThat(host.path("lease").path("epoch").asLong()).as("%s's epoch", id).isEqualTo(1);
                assertThat(host.path("address").asText()).isEqualTo(id.equals("host-a") ? urlA : urlB);
            }
        }

        // Creations on both hosts, interleaved, all succeed; the shared template stays ready on both.
        String a1 = create(urlA, "on-a-1");
        String b1 = create(urlB, "on-b-1");
        String a2 = create(urlA, "on-a-2");
        String b2 = create(urlB, "on-b-2");
        for (String url : new String[] {urlA, urlB}) {
            JsonNode template = call(url, "GET", "/api/v1/templates/tiny-linux", 200);
            assertThat(template.path("ready").asBoolean()).as("tiny-linux ready on the server at %s", url).isTrue();
        }
        assertThat(call(urlA, "GET", "/api/v1/vms/" + b1, 200).path("name").asText()).isEqualTo("on-b-1");
        Path diskB1 = Path.of(call(urlB, "GET", "/api/v1/vms/" + b1, 200).path("disks").path(0).path("path").asText());
        assertThat(diskB1).isRegularFile().startsWith(dataB);

        // Host A's server does not delete host B's VM (only lifecycle operations and the serial console are passed
        // on to the owner's server: ClusterRoutingIT): it says which host has it, and changes nothing.
        for (String[] request : new String[][] {{"DELETE", "/api/v1/vms/" + b1}}) {
            JsonNode refused = call(urlA, request[0], request[1], 409);
            assertThat(refused.path("detail").asText()).as("%s %s", request[0], request[1])
                    .contains("is on host host-b", "not on host-a");
        }
        assertThat(call(urlB, "GET", "/api/v1/vms/" + b1, 200).path("state").asText()).isEqualTo("Off");
        assertThat(diskB1).isRegularFile();

        // Each host's own server deletes its own VMs, disks and all.
        for (String[] vm : new String[][] {{"A", a1}, {"A", a2}, {"B", b1}, {"B", b2}}) {
            call(vm[0].equals("A") ? urlA : urlB, "DELETE", "/api/v1/vms/" + vm[1], 204);
        }
        assertThat(diskB1).doesNotExist();
        assertThat(a.output() + b.output()).doesNotContain("OptimisticLock", "unexpected error");

        // Host B's cable is pulled while its server runs: A sees B's lease expire by the database's clock, and B
        // says in its log that it cannot renew. Plugged back, B renews the same lease (same epoch): live again.
        hostB.cutLink();
        awaitLease(urlA, "host-b", "expired", Duration.ofSeconds(40));
        awaitOutput(b, "host 'host-b' could not renew its lease (epoch 1", Duration.ofSeconds(20));
        hostB.restoreLink();
        awaitLease(urlA, "host-b", "live", Duration.ofSeconds(60));
        JsonNode own = call(urlB, "GET", "/api/v1/hosts/host-b", 200);
        assertThat(own.path("membership").path("state").asText()).as("B's own account: %s", own).isEqualTo("live");
        assertThat(own.path("lease").path("epoch").asLong()).isEqualTo(1);
        assertThat(b.outputSinceStart()).contains("host 'host-b' renewed its lease again after").doesNotContain("LOST ITS LEASE");

        // Host B's server dies: A sees its lease expire by the database's clock (10 s after its last renewal),
        // refuses to remove it while it was live, and removes it once expired; B's row stays, as left.
        assertThat(call(urlA, "DELETE", "/api/v1/hosts/host-b", 409).path("detail").asText())
                .startsWith("host 'host-b' holds a live lease");
        b.kill();
        awaitLease(urlA, "host-b", "expired", Duration.ofSeconds(30));
        call(urlA, "DELETE", "/api/v1/hosts/host-b", 204);
        JsonNode left = call(urlA, "GET", "/api/v1/hosts/host-b", 200).path("lease");
        assertThat(left.path("state").asText()).isEqualTo("left");
        assertThat(left.path("epoch").asLong()).isEqualTo(2);
        assertThat(call(urlA, "GET", "/api/v1/hosts/host-a", 200).path("lease").path("state").asText()).isEqualTo("live");
    }

    /** Waits until the server at {@code url} shows {@code host}'s lease in {@code state}. */
    private void awaitLease(String url, String host, String state, Duration patience) throws Exception {
        long deadline = System.nanoTime() + patience.toNanos();
        while (!call(url, "GET", "/api/v1/hosts/" + host, 200).path("lease").path("state").asText().equals(state)) {
            assertThat(System.nanoTime()).as("%s's lease %s within %s as %s sees it", host, state, patience, url)
                    .isLessThan(deadline);
            Thread.sleep(500);
        }
    }

    private static void awaitOutput(PackagedServer server, String text, Duration patience) throws Exception {
        long deadline = System.nanoTime() + patience.toNanos();
        while (!server.outputSinceStart().contains(text)) {
            assertThat(System.nanoTime()).as("the server said '%s' within %s; it said:%n%s", text, patience,
                    server.outputSinceStart()).isLessThan(deadline);
            Thread.sleep(500);
        }
    }

    private String create(String url, String name) throws Exception {
        return call(url, "POST", "/api/v1/vms", 201, "{\"template\":\"tiny-linux\",\"name\":\"" + name
                + "\",\"disks\":[{\"sizeMib\":16,\"format\":\"qcow2\"}]}").path("id").asText();
    }

    private JsonNode call(String url, String method, String path, int expected) throws Exception {
        return call(url, method, path, expected, null);
    }

    private JsonNode call(String url, String method, String path, int expected, String body) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url + path))
                .timeout(Duration.ofSeconds(180))
                .header("Authorization", "Bearer " + Tokens.accessToken("admin"))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("%s %s on %s: %s", method, path, url, response.body()).isEqualTo(expected);
        return response.body().isEmpty() || !response.body().startsWith("{") ? JSON.createObjectNode() : JSON.readTree(response.body());
    }

    private static Path folder(String prefix) throws IOException {
        return Files.createTempDirectory(Path.of("/tmp"), prefix,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
    }
}
