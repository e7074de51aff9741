package io.hypervise.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Access tokens of the demo realm's users, as a script would get them: the {@code hypervise-cli}
 * client's password grant against the test Keycloak ({@link KeycloakTestResource}). Tokens are
 * cached per user until shortly before they expire (the realm gives them five minutes).
 *
 * <pre>given().auth().oauth2(Tokens.accessToken("alice")).get("/api/v1/vms")</pre>
 */
public final class Tokens {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration MARGIN = Duration.ofSeconds(30);
    private static final Map<String, Cached> CACHE = new ConcurrentHashMap<>();

    private Tokens() {
    }

    /** A request as the user sends it: with their bearer token, or with none for "anonymous". */
    public static RequestSpecification as(String user) {
        return user.equals("anonymous") ? RestAssured.given() : RestAssured.given().auth().oauth2(accessToken(user));
    }

    /** An access token for a demo user: admin, operator, auditor, alice or bob (each's password is their name). */
    public static String accessToken(String user) {
        return CACHE.compute(user, (name, cached) -> cached != null && cached.fresh() ? cached : fetch(name)).token();
    }

    /** A token of the hosts' service identity (realm role hypervise-host), as a server gets it: client credentials. */
    public static String serviceToken() {
        Grant grant = post(tokenEndpoint(), Map.of("grant_type", "client_credentials", "client_id", "hypervise-host",
                "client_secret", "hypervise-host-demo-secret"));
        if (grant.status() != 200) {
            throw new IllegalStateException("Keycloak refused the hosts' service token: " + grant.status() + " " + grant.body());
        }
        return grant.accessToken();
    }

    /** Whatever the token endpoint answers to a password grant for these credentials. */
    public static Grant passwordGrant(String user, String password) {
        return post(tokenEndpoint(), Map.of(
                "grant_type", "password",
                "client_id", KeycloakTestResource.CLI_CLIENT_ID,
                "username", user,
                "password", password,
                "scope", "openid"));
    }

    /** The claims of a token, decoded but not verified: checking signatures is the server's job. */
    public static JsonNode claims(String jwt) {
        String[] parts = jwt.split("\\.");
        if (parts.length != 3) {
            throw new IllegalArgumentException("not a JWT: " + jwt);
        }
        try {
            return JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
        } catch (IOException e) {
            throw new UncheckedIOException("unreadable JWT payload", e);
        }
    }

    public static URI tokenEndpoint() {
        return URI.create(KeycloakTestResource.realmUrl() + "/protocol/openid-connect/token");
    }

    /** POSTs a form and reads the JSON answer. */
    public static Grant post(URI uri, Map<String, String> form) {
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(formEncode(form)))
                .build();
        try {
            HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            return new Grant(response.statusCode(), JSON.readTree(response.body()));
        } catch (IOException e) {
            throw new UncheckedIOException("POST " + uri + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during POST " + uri, e);
        }
    }

    public static String formEncode(Map<String, String> form) {
        return form.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                        + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
    }

    private static Cached fetch(String user) {
        Instant asked = Instant.now();
        Grant grant = passwordGrant(user, user);
        if (grant.status() != 200) {
            throw new IllegalStateException("Keycloak refused a token for '" + user + "': " + grant.status() + " " + grant.body());
        }
        return new Cached(grant.accessToken(), asked.plusSeconds(grant.body().path("expires_in").asLong()));
    }

    /** The token endpoint's status and JSON body. */
    public record Grant(int status, JsonNode body) {

        public String accessToken() {
            return body.path("access_token").asText(null);
        }

        public String error() {
            return body.path("error").asText(null);
        }
    }

    private record Cached(String token, Instant expires) {

        boolean fresh() {
            return Instant.now().plus(MARGIN).isBefore(expires);
        }
    }
}
