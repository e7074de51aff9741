package io.hypervise.bench.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * Hypervise's REST API as admin: a token by Keycloak's password grant (public client {@code hypervise-cli}),
 * fetched again a minute before it expires, and jobs followed by polling every {@code HYPERVISE_BENCH_POLL_MS}
 * milliseconds (default 20): finer than that and the polls' own CPU competes with QEMU on a small machine.
 */
public final class ServerApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration POLL = Duration.ofMillis(Long.parseLong(System.getenv().getOrDefault("HYPERVISE_BENCH_POLL_MS", "20")));

    private final HttpClient http = HttpClient.newHttpClient();
    private final URI server;
    private final URI tokenEndpoint;
    private String token;
    private Instant tokenExpires = Instant.MIN;

    /** A job as it ended: its duration as the server recorded it (creation to last update). */
    public record JobEnd(double serverSeconds) {
    }

    public ServerApi(URI server, String realm) {
        this.server = server;
        this.tokenEndpoint = URI.create(realm + "/protocol/openid-connect/token");
    }

    /** Makes sure no request of the next minute waits for a token. */
    public void renewToken() throws IOException, InterruptedException {
        bearer();
    }

    public String expect(int status, String method, String path, String json) throws IOException, InterruptedException {
        HttpResponse<String> response = send(method, path, json);
        if (response.statusCode() != status) {
            throw new IOException(method + " " + path + " answered " + response.statusCode() + " instead of " + status
                    + ": " + response.body());
        }
        return response.body();
    }

    public HttpResponse<String> send(String method, String path, String json) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.resolve(path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", bearer());
        request = json == null ? request.method(method, HttpRequest.BodyPublishers.noBody())
                : request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Follows the job of a 202's body until it succeeds; a failed job is an exception with its error. */
    public JobEnd awaitJob(String accepted) throws IOException, InterruptedException {
        String job = "/api/v1/jobs/" + JSON.readTree(accepted).path("id").asText();
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode state = JSON.readTree(expect(200, "GET", job, null));
            switch (state.path("state").asText()) {
                case "succeeded" -> {
                    return new JobEnd(Duration.between(Instant.parse(state.path("createdAt").asText()),
                            Instant.parse(state.path("updatedAt").asText())).toNanos() / 1e9);
                }
                case "failed" -> throw new IOException("job " + job + " (" + state.path("kind").asText() + ") failed: "
                        + state.path("error").asText());
                default -> TimeUnit.NANOSECONDS.sleep(POLL.toNanos());
            }
        }
        throw new IOException("job " + job + " did not end within 5 minutes");
    }

    /** How long a client waits between two looks at something it follows (a job, a serial console). */
    public static Duration pollInterval() {
        return POLL;
    }

    private String bearer() throws IOException, InterruptedException {
        if (Instant.now().plusSeconds(60).isAfter(tokenExpires)) {
            Instant asked = Instant.now();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(tokenEndpoint)
                    .header("Content-Type", "application/x-www-form-urlencoded").timeout(Duration.ofSeconds(30))
                    .POST(HttpRequest.BodyPublishers.ofString("grant_type=password&client_id=hypervise-cli&username=admin&password=admin"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IOException("Keycloak refused admin a token (" + r.statusCode() + "): " + r.body());
            }
            JsonNode body = JSON.readTree(r.body());
            token = body.path("access_token").asText();
            tokenExpires = asked.plusSeconds(body.path("expires_in").asLong(60));
        }
        return "Bearer " + token;
    }
}
