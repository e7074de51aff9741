package io.hypervise.server.access;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.server.config.ServerConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The realm's sign-in events, read through Keycloak's admin API ({@code GET /admin/realms/{realm}/events})
 * as the client {@code hypervise-events}: client credentials, and a service account whose only role
 * is {@code realm-management/view-events}, so the server can read events and do nothing else there.
 */
@ApplicationScoped
public class KeycloakEventFeed {

    /** The event types the audit log takes in: refused sign-ins and the lockouts they lead to. */
    static final List<String> TYPES = List.of("LOGIN_ERROR", "USER_DISABLED_BY_TEMPORARY_LOCKOUT",
            "USER_DISABLED_BY_PERMANENT_LOCKOUT");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @Inject
    ServerConfig config;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    private String token;
    private Instant tokenExpires = Instant.MIN;

    /** One of Keycloak's events, as much of it as the audit log keeps. */
    public record SignInEvent(String id, Instant at, String type, String client, String userId, String username,
            String address, String error) {
    }

    /** Keycloak could not be asked, or refused to answer. */
    public static class FeedException extends Exception {
        FeedException(String message) {
            super(message);
        }
    }

    /** Up to {@code max} events at or after {@code from}, oldest first. */
    public synchronized List<SignInEvent> since(Instant from, int max) throws FeedException {
        StringBuilder query = new StringBuilder("?direction=asc&first=0&max=").append(max)
                .append("&dateFrom=").append(from.toEpochMilli());
        TYPES.forEach(type -> query.append("&type=").append(type));
        String realm = config.keycloak().realmUrl();
        URI uri = URI.create(realm.replaceFirst("/realms/", "/admin/realms/") + "/events" + query);
        JsonNode events = send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + token()).GET(), "the realm's events");
        List<SignInEvent> found = new ArrayList<>();
        for (JsonNode e : events) {
            JsonNode details = e.path("details");
            found.add(new SignInEvent(e.path("id").asText(null), Instant.ofEpochMilli(e.path("time").asLong()),
                    e.path("type").asText(), e.path("clientId").asText(null), e.path("userId").asText(null),
                    details.path("username").asText(null), e.path("ipAddress").asText(null), e.path("error").asText(null)));
        }
        return found;
    }

    private String token() throws FeedException {
        if (token != null && Instant.now().isBefore(tokenExpires)) {
            return token;
        }
        ServerConfig.Keycloak.SignInEvents client = config.keycloak().signInEvents();
        String form = "grant_type=client_credentials&client_id=" + URLEncoder.encode(client.clientId(), StandardCharsets.UTF_8)
                + "&client_secret=" + URLEncoder.encode(client.secret(), StandardCharsets.UTF_8);
        JsonNode grant = send(HttpRequest.newBuilder(URI.create(config.keycloak().realmUrl() + "/protocol/openid-connect/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)), "a token for client '" + client.clientId() + "'");
        token = grant.path("access_token").asText();
        tokenExpires = Instant.now().plusSeconds(Math.max(0, grant.path("expires_in").asLong() - 30));
        return token;
    }

    private JsonNode send(HttpRequest.Builder request, String what) throws FeedException {
        try {
            HttpResponse<String> response = http.send(request.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                if (response.statusCode() == 401) {
                    token = null;
                }
                throw new FeedException("Keycloak refused " + what + ": " + response.statusCode() + " " + response.body());
            }
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new FeedException("cannot ask Keycloak for " + what + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FeedException("interrupted while asking Keycloak for " + what);
        }
    }
}
