package io.hypervise.bench.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Access tokens from Keycloak's realm for the demo users (password = user name), by the password grant
 * of the public client {@code hypervise-cli}. Tokens live minutes, so each is fetched again shortly
 * before it expires; {@link #renewAll} does that between measurements, so no timed request waits for one.
 */
final class Tokens {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration MARGIN = Duration.ofSeconds(30);

    private final HttpClient http;
    private final URI tokenEndpoint;
    private final Map<String, Token> tokens = new ConcurrentHashMap<>();

    private record Token(String value, Instant expires) {
        boolean expiresWithin(Duration d) {
            return Instant.now().plus(d).isAfter(expires);
        }
    }

    Tokens(HttpClient http, String realmUrl) {
        this.http = http;
        this.tokenEndpoint = URI.create(realmUrl + "/protocol/openid-connect/token");
    }

    /** The value of an Authorization header for the user. */
    String bearer(String user) throws IOException, InterruptedException {
        Token t = tokens.get(user);
        if (t == null || t.expiresWithin(MARGIN)) {
            t = fresh(user, MARGIN);
        }
        return "Bearer " + t.value();
    }

    /** Fetches every known user's token again unless it outlives {@code span}. */
    void renewAll(Duration span) throws IOException, InterruptedException {
        for (String user : tokens.keySet()) {
            fresh(user, span);
        }
    }

    /** The user's token if it outlives {@code span}, else a new one; one client fetches it while the others wait. */
    private synchronized Token fresh(String user, Duration span) throws IOException, InterruptedException {
        Token current = tokens.get(user);
        if (current != null && !current.expiresWithin(span)) {
            return current;
        }
        String form = "grant_type=password&client_id=hypervise-cli&username=" + URLEncoder.encode(user, StandardCharsets.UTF_8)
                + "&password=" + URLEncoder.encode(user, StandardCharsets.UTF_8);
        Instant asked = Instant.now();
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(tokenEndpoint)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("Keycloak refused a token for '" + user + "' (" + response.statusCode() + "): " + response.body());
        }
        JsonNode body = JSON.readTree(response.body());
        Token t = new Token(body.path("access_token").asText(), asked.plusSeconds(body.path("expires_in").asLong(60)));
        tokens.put(user, t);
        return t;
    }
}
