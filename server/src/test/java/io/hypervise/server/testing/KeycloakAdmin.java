package io.hypervise.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The test Keycloak seen by its own administrator (the master realm's, which {@link KeycloakTestResource}
 * creates): users made for one test, so that locking one out disturbs no other, and the sessions
 * Keycloak holds.
 */
public final class KeycloakAdmin {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private KeycloakAdmin() {
    }

    /** A new user of the demo realm, with no role, whose password is its name. Returns the name. */
    public static String aThrowawayUser(String prefix) {
        String name = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> user = Map.of("username", name, "enabled", true, "email", name + "@hypervise.test",
                "emailVerified", true, "firstName", "Throwaway", "lastName", "User",
                "credentials", List.of(Map.of("type", "password", "value", name, "temporary", false)));
        HttpResponse<String> created = send("POST", "/users", user);
        if (created.statusCode() != 201) {
            throw new IllegalStateException("Keycloak did not create " + name + ": " + created.statusCode() + " " + created.body());
        }
        return name;
    }

    public static String userId(String username) {
        JsonNode users = json(send("GET", "/users?exact=true&username=" + username, null));
        return users.path(0).path("id").asText();
    }

    /** The ids of the user's sessions that signed in to the server's pages (client hypervise-web). */
    public static List<String> webSessions(String username) {
        JsonNode sessions = json(send("GET", "/users/" + userId(username) + "/sessions", null));
        return java.util.stream.StreamSupport.stream(sessions.spliterator(), false)
                .filter(s -> s.path("clients").toString().contains(KeycloakTestResource.WEB_CLIENT_ID))
                .map(s -> s.path("id").asText()).toList();
    }

    private static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A call to the demo realm's admin API, e.g. {@code /users}. */
    private static HttpResponse<String> send(String method, String path, Object body) {
        String realm = KeycloakTestResource.realmUrl();
        String server = realm.substring(0, realm.indexOf("/realms/"));
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create(server + "/admin/realms/" + KeycloakTestResource.REALM + path))
                    .timeout(Duration.ofSeconds(30))
                    .header("Authorization", "Bearer " + token(server))
                    .header("Content-Type", "application/json")
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
                    .build();
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String token(String server) {
        Tokens.Grant grant = Tokens.post(URI.create(server + "/realms/master/protocol/openid-connect/token"), Map.of(
                "grant_type", "password", "client_id", "admin-cli",
                "username", KeycloakTestResource.ADMIN, "password", KeycloakTestResource.ADMIN_PASSWORD));
        if (grant.status() != 200) {
            throw new IllegalStateException("the test Keycloak's administrator cannot sign in: " + grant.body());
        }
        return grant.accessToken();
    }
}
