package io.hypervise.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * A cluster of two hosts for the tests that need two real servers: each host a packaged server in a network namespace
 * of its own ({@link HostNetwork}) with its own data folder; host A's server runs the cluster's PostgreSQL (embedded,
 * listening on A's address), host B's uses it; both use the test run's Keycloak. Closing kills both servers, checks
 * that nothing mentioning their folders still runs, and removes the folders and the network, keeping the servers' logs
 * in {@code target/two-hosts}.
 */
public final class TwoHosts implements AutoCloseable {

    public static final int HTTP_PORT = 8080;
    private static final int DATABASE_PORT = 5432;
    private static final ObjectMapper JSON = new ObjectMapper();

    public final HostNetwork network;
    public final HostNetwork.Host hostA;
    public final HostNetwork.Host hostB;
    public final Path dataA;
    public final Path dataB;
    public final String urlA;
    public final String urlB;
    private PackagedServer a;
    private PackagedServer b;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TwoHosts(HostNetwork network) throws IOException {
        this.network = network;
        this.hostA = network.addHost('a');
        this.hostB = network.addHost('b');
        this.dataA = folder("hva");
        this.dataB = folder("hvb");
        this.urlA = hostA.url(HTTP_PORT);
        this.urlB = hostB.url(HTTP_PORT);
    }

    /**
     * Starts host A's server (host id {@code host-a}), then host B's ({@code host-b}), each with the properties given
     * for it besides those that make them one cluster.
     */
    public static TwoHosts start(List<String> propertiesA, List<String> propertiesB) throws Exception {
        HostNetwork network = HostNetwork.create();
        TwoHosts hosts;
        try {
            hosts = new TwoHosts(network);
        } catch (IOException | RuntimeException e) {
            network.close();
            throw e;
        }
        try {
            String realm = hosts.network.keycloakRealmUrl();
            List<String> a = new ArrayList<>(List.of("hypervise.host-id=host-a",
                    "hypervise.database.embedded.port=" + DATABASE_PORT,
                    "hypervise.database.embedded.listen-address=" + hosts.hostA.address(),
                    "hypervise.keycloak.realm-url=" + realm));
            a.addAll(propertiesA);
            hosts.a = hosts.hostA.server(hosts.dataA, HTTP_PORT, a.toArray(String[]::new));
            hosts.a.start();
            Properties credentials = new Properties();
            try (Reader r = Files.newBufferedReader(hosts.dataA.resolve("postgres/credentials.properties"))) {
                credentials.load(r);
            }
            List<String> b = new ArrayList<>(List.of("hypervise.host-id=host-b",
                    "quarkus.datasource.jdbc.url=jdbc:postgresql://" + hosts.hostA.address() + ":" + DATABASE_PORT
                            + "/hypervise",
                    "quarkus.datasource.username=hypervise_app",
                    "quarkus.datasource.password=" + credentials.getProperty("app.password"),
                    "quarkus.flyway.username=hypervise",
                    "quarkus.flyway.password=" + credentials.getProperty("owner.password"),
                    "hypervise.keycloak.realm-url=" + realm));
            b.addAll(propertiesB);
            hosts.b = hosts.hostB.server(hosts.dataB, HTTP_PORT, b.toArray(String[]::new));
            hosts.b.start();
            return hosts;
        } catch (Exception | AssertionError e) {
            try {
                hosts.close();
            } catch (Exception | AssertionError cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** Host A's server, which runs the cluster's PostgreSQL. */
    public PackagedServer a() {
        return a;
    }

    public PackagedServer b() {
        return b;
    }

    /** Calls the API of the server at {@code url} as {@code user}; the answer must have status {@code expected}. */
    public JsonNode call(String url, String method, String path, int expected, String body, String user) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url + path))
                .timeout(Duration.ofSeconds(180))
                .header("Authorization", "Bearer " + Tokens.accessToken(user))
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("%s %s on %s: %s", method, path, url, response.body()).isEqualTo(expected);
        return response.body().isEmpty() || !response.body().startsWith("{") ? JSON.createObjectNode()
                : JSON.readTree(response.body());
    }

    /** As an administrator. */
    public JsonNode call(String url, String method, String path, int expected, String body) throws Exception {
        return call(url, method, path, expected, body, "admin");
    }

    public JsonNode call(String url, String method, String path, int expected) throws Exception {
        return call(url, method, path, expected, null);
    }

    /** A plain-text answer (a serial console), as an administrator. */
    public String text(String url, String path) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url + path))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + Tokens.accessToken("admin")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("GET %s on %s: %s", path, url, response.body()).isEqualTo(200);
        return response.body();
    }

    /** Waits until the server at {@code url} shows {@code host}'s lease in {@code state}. */
    public void awaitLease(String url, String host, String state, Duration patience) throws Exception {
        long deadline = System.nanoTime() + patience.toNanos();
        while (!call(url, "GET", "/api/v1/hosts/" + host, 200).path("lease").path("state").asText().equals(state)) {
            assertThat(System.nanoTime()).as("%s's lease %s within %s as %s sees it", host, state, patience, url)
                    .isLessThan(deadline);
            Thread.sleep(500);
        }
    }

    /** Ends every process that mentions either host's folder: workers outlive their server, and a test's guests are its own to end. */
    public void endWorkers() throws Exception {
        for (Path dir : new Path[] {dataA, dataB}) {
            String marker = dir.toString();
            for (ProcessHandle p : ProcessHandle.allProcesses().filter(p -> p.info().arguments()
                    .map(x -> String.join(" ", x).contains(marker)).orElse(false)).toList()) {
                p.destroyForcibly();
                p.onExit().get();
            }
        }
    }

    /** Kills both servers; then nothing may mention their folders (20 s for workers to end), which go with the network. */
    @Override
    public void close() throws Exception {
        try {
            for (PackagedServer s : new PackagedServer[] {b, a}) {
                if (s != null) {
                    s.kill();
                }
            }
            // The servers' logs outlive their folders, for whoever reads why a test failed.
            Path logs = Path.of("target", "two-hosts");
            Files.createDirectories(logs);
            String run = java.time.LocalTime.now().toString().replace(':', '-');
            for (Path dir : new Path[] {dataA, dataB}) {
                if (Files.exists(dir.resolve("server.log"))) {
                    Files.copy(dir.resolve("server.log"), logs.resolve(run + "-" + (dir == dataA ? "a" : "b") + ".log"));
                }
            }
            for (Path dir : new Path[] {dataA, dataB}) {
                assertThat(LeftoverProcesses.mentioningAfter(dir, Duration.ofSeconds(20))).isEmpty();
                TemporaryDataDir.delete(dir);
            }
        } finally {
            network.close();
        }
    }

    private static Path folder(String prefix) throws IOException {
        return Files.createTempDirectory(Path.of("/tmp"), prefix,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
    }
}
