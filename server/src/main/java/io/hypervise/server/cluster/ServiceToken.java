package io.hypervise.server.cluster;

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

/**
 * This server's service identity towards the cluster's other servers: an access token of the confidential client
 * {@code hypervise.cluster.service-client-id} (client credentials grant), whose service account holds the realm
 * role {@code hypervise-host}. Kept until 30 s before it expires; forgotten when a peer refuses it.
 */
@ApplicationScoped
public class ServiceToken {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration MARGIN = Duration.ofSeconds(30);

    @Inject
    ServerConfig config;

    private HttpClient http;
    private String token;
    private Instant expires = Instant.MIN;

    /** Keycloak gave no token: why, in words. */
    public static class UnavailableException extends Exception {
        UnavailableException(String message) {
            super(message);
        }
    }

    /** A token that is valid for at least 30 s more, asked of Keycloak when the one held is not. */
    public synchronized String get() throws UnavailableException {
        if (token != null && Instant.now().isBefore(expires)) {
            return token;
        }
        ServerConfig.Cluster cluster = config.cluster();
        if (http == null) {
            http = HttpClient.newBuilder().connectTimeout(cluster.peer().connectTimeout()).build();
        }
        String client = cluster.serviceClientId();
        String form = "grant_type=client_credentials&client_id=" + URLEncoder.encode(client, StandardCharsets.UTF_8)
                + "&client_secret=" + URLEncoder.encode(cluster.serviceClientSecret(), StandardCharsets.UTF_8);
        URI uri = URI.create(config.keycloak().realmUrl() + "/protocol/openid-connect/token");
        HttpResponse<String> response;
        try {
            response = http.send(HttpRequest.newBuilder(uri).timeout(cluster.peer().requestTimeout())
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UnavailableException("Keycloak at " + uri + " cannot be asked for client '" + client + "''s token: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UnavailableException("interrupted while asking Keycloak for client '" + client + "''s token");
        }
        if (response.statusCode() != 200) {
            throw new UnavailableException("Keycloak refused client '" + client + "' a token (" + response.statusCode() + ": "
                    + PeerCall.reason(response.body()) + "); check hypervise.cluster.service-client-secret");
        }
        try {
            JsonNode grant = JSON.readTree(response.body());
            token = grant.path("access_token").asText();
            expires = Instant.now().plusSeconds(grant.path("expires_in").asLong()).minus(MARGIN);
        } catch (IOException e) {
            throw new UnavailableException("Keycloak's answer to client '" + client + "' is not a token: " + e.getMessage());
        }
        return token;
    }

    /** Drops the token held (a peer refused it), so the next call asks for a new one. */
    public synchronized void forget(String refused) {
        if (refused.equals(token)) {
            token = null;
        }
    }
}
