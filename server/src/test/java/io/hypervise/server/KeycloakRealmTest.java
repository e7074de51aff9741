package io.hypervise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.Tokens;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The demo realm in keycloak/hypervise-realm.json, as a real Keycloak serves it. */
class KeycloakRealmTest {

    private static final String WEB_REDIRECT = "http://localhost:8080/callback";

    record DemoUser(String name, String role, List<String> groups, String givenName, String familyName) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<DemoUser> demoUsers() {
        return Stream.of(
                new DemoUser("admin", "hv-admin", List.of(), "Ada", "Admin"),
                new DemoUser("operator", "hv-operator", List.of(), "Oscar", "Operator"),
                new DemoUser("auditor", "hv-auditor", List.of(), "Audrey", "Auditor"),
                new DemoUser("alice", "hv-self-service", List.of("engineering"), "Alice", "Engineer"),
                new DemoUser("bob", "hv-self-service", List.of("qa"), "Bob", "Tester"));
    }

    @ParameterizedTest
    @MethodSource("demoUsers")
    void eachDemoUserCarriesExactlyTheirRoleAndGroups(DemoUser user) {
        JsonNode claims = Tokens.claims(Tokens.accessToken(user.name()));

        Set<String> hvRoles = texts(claims.path("realm_access").path("roles")).stream()
                .filter(role -> role.startsWith("hv-"))
                .collect(Collectors.toSet());
        assertEquals(Set.of(user.role()), hvRoles, "hv-* realm roles of " + user.name());
        assertTrue(!texts(claims.path("realm_access").path("roles")).contains("hypervise-host"),
                "no person holds the hosts' service role: " + user.name());
        // Keycloak leaves the claim out for a user in no group.
        assertEquals(user.groups(), texts(claims.path("groups")), "groups claim of " + user.name());

        assertEquals(user.name(), claims.path("preferred_username").asText());
        assertEquals(user.givenName(), claims.path("given_name").asText());
        assertEquals(user.familyName(), claims.path("family_name").asText());
        assertEquals(user.name() + "@hypervise.test", claims.path("email").asText());
    }

    @Test
    void cliTokensAreShortLivedAndMeantForHypervise() {
        JsonNode claims = Tokens.claims(Tokens.accessToken("alice"));

        assertEquals(KeycloakTestResource.realmUrl(), claims.path("iss").asText());
        assertEquals(KeycloakTestResource.CLI_CLIENT_ID, claims.path("azp").asText());
        assertTrue(texts(claims.path("aud")).contains(KeycloakTestResource.WEB_CLIENT_ID),
                "aud names the server's client, so the server can insist on it: " + claims.path("aud"));
        assertEquals(300, claims.path("exp").asLong() - claims.path("iat").asLong(), "access token lifespan in seconds");
    }

    @Test
    void aWrongPasswordIsRefused() {
        Tokens.Grant grant = Tokens.passwordGrant("alice", "bob");

        // Keycloak 26 answers a bad user password with 400 invalid_grant (RFC 6749 5.2), not 401.
        assertEquals(400, grant.status(), grant.body().toString());
        assertEquals("invalid_grant", grant.error());
        assertNull(grant.accessToken());
    }

    @Test
    void anUnknownUserIsRefusedLikeAWrongPassword() {
        Tokens.Grant grant = Tokens.passwordGrant("mallory", "mallory");

        assertEquals(400, grant.status(), grant.body().toString());
        assertEquals("invalid_grant", grant.error());
        assertNull(grant.accessToken());
    }

    @Test
    void theHostsServiceClientGetsTheHostRoleAloneByClientCredentialsOnly() {
        Tokens.Grant grant = Tokens.post(Tokens.tokenEndpoint(), Map.of(
                "grant_type", "client_credentials",
                "client_id", "hypervise-host",
                "client_secret", "hypervise-host-demo-secret"));
        assertNotNull(grant.accessToken(), grant.body().toString());
        JsonNode claims = Tokens.claims(grant.accessToken());
        List<String> roles = texts(claims.path("realm_access").path("roles"));
        assertTrue(roles.contains("hypervise-host"), "realm roles: " + roles);
        assertTrue(roles.stream().noneMatch(r -> r.startsWith("hv-")), "no person's role: " + roles);
        assertTrue(texts(claims.path("aud")).contains(KeycloakTestResource.WEB_CLIENT_ID),
                "aud names the server's client, which the API insists on: " + claims.path("aud"));

        Tokens.Grant wrongSecret = Tokens.post(Tokens.tokenEndpoint(), Map.of(
                "grant_type", "client_credentials",
                "client_id", "hypervise-host",
                "client_secret", "not-the-secret"));
        assertNull(wrongSecret.accessToken(), wrongSecret.body().toString());
        Tokens.Grant password = Tokens.post(Tokens.tokenEndpoint(), Map.of(
                "grant_type", "password",
                "client_id", "hypervise-host",
                "client_secret", "hypervise-host-demo-secret",
                "username", "admin",
                "password", "admin"));
        assertNull(password.accessToken(), "no password grant: " + password.body());
    }

    @Test
    void theWebClientHasNoPasswordGrant() {
        Tokens.Grant grant = Tokens.post(Tokens.tokenEndpoint(), Map.of(
                "grant_type", "password",
                "client_id", KeycloakTestResource.WEB_CLIENT_ID,
                "client_secret", KeycloakTestResource.WEB_CLIENT_SECRET,
                "username", "alice",
                "password", "alice"));

        assertEquals("unauthorized_client", grant.error(), grant.body().toString());
        assertNull(grant.accessToken());
    }

    @Test
    void theWebClientSignsInWithTheAuthorizationCodeFlowAndPkce() throws Exception {
        HttpBrowser browser = new HttpBrowser();
        String verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";

        HttpResponse<String> loginPage = browser.get(authorizationUrl(WEB_REDIRECT, challenge(verifier)));
        assertEquals(200, loginPage.statusCode(), loginPage.body());
        HttpResponse<String> afterLogin = browser.postForm(HttpBrowser.loginFormAction(loginPage.body()),
                Map.of("username", "bob", "password", "bob", "credentialId", ""));
        assertEquals(302, afterLogin.statusCode(), afterLogin.body());
        String location = afterLogin.headers().firstValue("Location").orElseThrow();
        assertTrue(location.startsWith(WEB_REDIRECT + "?"), location);
        Map<String, String> callback = query(URI.create(location));
        assertEquals("state-1", callback.get("state"));
        assertNotNull(callback.get("code"), location);

        Tokens.Grant tokens = Tokens.post(Tokens.tokenEndpoint(), Map.of(
                "grant_type", "authorization_code",
                "client_id", KeycloakTestResource.WEB_CLIENT_ID,
                "client_secret", KeycloakTestResource.WEB_CLIENT_SECRET,
                "code", callback.get("code"),
                "redirect_uri", WEB_REDIRECT,
                "code_verifier", verifier));
        assertEquals(200, tokens.status(), tokens.body().toString());
        JsonNode id = Tokens.claims(tokens.body().path("id_token").asText());
        assertEquals(KeycloakTestResource.WEB_CLIENT_ID, id.path("aud").asText());
        assertEquals("bob", id.path("preferred_username").asText());
        assertEquals("Bob Tester", id.path("name").asText());
        assertEquals(List.of("qa"), texts(id.path("groups")));
        JsonNode access = Tokens.claims(tokens.accessToken());
        assertEquals(List.of("hv-self-service"), texts(access.path("realm_access").path("roles")));
        assertEquals(List.of("qa"), texts(access.path("groups")));
    }

    @Test
    void theWebClientInsistsOnPkce() throws Exception {
        HttpResponse<String> response = new HttpBrowser().get(authorizationUrl(WEB_REDIRECT, null));

        assertEquals(302, response.statusCode(), response.body());
        Map<String, String> callback = query(URI.create(response.headers().firstValue("Location").orElseThrow()));
        assertEquals("invalid_request", callback.get("error"));
        assertTrue(callback.get("error_description").contains("code_challenge_method"), callback.toString());
    }

    @Test
    void theWebClientRedirectsOnlyToTheLocalServer() throws Exception {
        HttpResponse<String> foreign = new HttpBrowser().get(authorizationUrl("http://attacker.example/callback", challenge("x")));

        assertEquals(400, foreign.statusCode());
        assertTrue(foreign.headers().firstValue("Location").isEmpty());
        assertTrue(foreign.body().contains("Invalid parameter: redirect_uri"), foreign.body());
        assertEquals(200, new HttpBrowser().get(authorizationUrl("http://127.0.0.1:8080/", challenge("x"))).statusCode());
        // Any port of the loopback address (RFC 8252 7.3): the browser tests run the server on a free port.
        assertEquals(200, new HttpBrowser().get(authorizationUrl("http://127.0.0.1:41234/console/x", challenge("x"))).statusCode());
    }

    private static URI authorizationUrl(String redirectUri, String codeChallenge) {
        Map<String, String> query = new LinkedHashMap<>();
        query.put("client_id", KeycloakTestResource.WEB_CLIENT_ID);
        query.put("response_type", "code");
        query.put("scope", "openid");
        query.put("redirect_uri", redirectUri);
        query.put("state", "state-1");
        if (codeChallenge != null) {
            query.put("code_challenge", codeChallenge);
            query.put("code_challenge_method", "S256");
        }
        return URI.create(KeycloakTestResource.realmUrl() + "/protocol/openid-connect/auth?" + Tokens.formEncode(query));
    }

    private static String challenge(String verifier) throws NoSuchAlgorithmException {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
        return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    }

    private static Map<String, String> query(URI uri) {
        Map<String, String> params = new LinkedHashMap<>();
        for (String pair : uri.getRawQuery().split("&")) {
            String[] kv = pair.split("=", 2);
            params.put(URLDecoder.decode(kv[0], StandardCharsets.UTF_8),
                    kv.length > 1 ? URLDecoder.decode(kv[1], StandardCharsets.UTF_8) : "");
        }
        return params;
    }

    private static List<String> texts(JsonNode array) {
        List<String> values = new ArrayList<>();
        if (array.isTextual()) {
            values.add(array.asText());
        }
        StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).forEach(values::add);
        return values;
    }
}
