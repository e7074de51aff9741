package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.access.FailedSignIns;
import io.hypervise.server.access.KeycloakEventFeed;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakAdmin;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Failed sign-ins and lockouts happen in Keycloak; the server brings them into its audit log (here
 * when the test asks, see application.properties), where the admin console's audit view shows them. Each test signs in as a user of its own, made for it in
 * Keycloak, so that locking it out disturbs nobody else.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FailedSignInsTest {

    /** The realm's bruteForceProtection failureFactor. */
    private static final int FAILURES_TO_LOCK = 5;

    @TestHTTPResource("/")
    URL url;

    @Inject
    FailedSignIns failedSignIns;

    private String base;
    private HttpBrowser auditor;

    @BeforeAll
    void signInTheAuditor() {
        base = "http://127.0.0.1:" + url.getPort(); // Keycloak accepts any port on the loopback address
        auditor = new HttpBrowser();
        assertThat(auditor.signIn(base, "auditor", "auditor").statusCode()).isEqualTo(200);
    }

    @Test
    void aWrongPasswordOnKeycloaksFormShowsInTheAuditView() {
        String user = KeycloakAdmin.aThrowawayUser("typo");

        HttpResponse<String> form = new HttpBrowser().signIn(base, user, "not-" + user);

        assertThat(form.body()).as("Keycloak's answer").contains("Invalid username or password");
        String view = awaitAuditView("auth.login.failed", user, "invalid_user_credentials");
        assertThat(view).contains("user:" + user).contains("127.0.0.1").contains("DENIED");
        Map<String, Object> entry = entries("auth.login.failed", user).get(0);
        assertThat(entry).containsEntry("actor", "anonymous").containsEntry("outcome", "DENIED")
                .containsEntry("sourceAddress", "127.0.0.1");
        assertThat(entry.get("reason").toString()).contains("wrong password");
        @SuppressWarnings("unchecked")
        Map<String, Object> parameters = (Map<String, Object>) entry.get("parameters");
        assertThat(parameters).containsEntry("client", KeycloakTestResource.WEB_CLIENT_ID)
                .containsEntry("error", "invalid_user_credentials").containsKey("event").containsKey("at");
    }

    @Test
    void repeatedFailuresLockTheUserOutAndTheLockoutShows() {
        String user = KeycloakAdmin.aThrowawayUser("guess");

        for (int i = 0; i < FAILURES_TO_LOCK; i++) {
            assertThat(Tokens.passwordGrant(user, "guess-" + i).error()).isEqualTo("invalid_grant");
            Browser.sleep(1100); // slower than the realm's quick-login check: only the count locks
        }
        Tokens.Grant rightPassword = Tokens.passwordGrant(user, user);

        assertThat(rightPassword.status()).as("the right password, while locked out").isEqualTo(400);
        String view = awaitAuditView("auth.", user, "user_temporarily_disabled");
        assertThat(view).contains("auth.user.locked");
        assertThat(entries("auth.login.failed", user)).hasSize(FAILURES_TO_LOCK + 1);
        assertThat(entries("auth.user.locked", user)).hasSize(1);
        as("auditor").when().get("/api/v1/audit/verify").then().statusCode(200);
    }

    /** The admin console's audit page, filtered to the user's entries of an action, once it shows {@code text}. */
    private String awaitAuditView(String action, String user, String text) {
        URI page = URI.create(base + "/admin/audit?action=" + action + "&target=user:" + user);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            importFromKeycloak(); // what the server does every few seconds (hypervise.keycloak.sign-in-events.poll)
            HttpResponse<String> response = auditor.get(page);
            assertThat(response.statusCode()).isEqualTo(200);
            if (response.body().contains(text)) {
                return response.body();
            }
            assertThat(System.nanoTime()).as("the audit view to show " + text + " for " + user + ":\n" + response.body())
                    .isLessThan(deadline);
            Browser.sleep(500);
        }
    }

    private void importFromKeycloak() {
        try {
            failedSignIns.importNew();
        } catch (KeycloakEventFeed.FeedException e) {
            throw new AssertionError(e);
        }
    }

    private static List<Map<String, Object>> entries(String action, String user) {
        JsonPath json = as("auditor").queryParam("action", action).queryParam("target", "user:" + user)
                .when().get("/api/v1/audit").then().statusCode(200).extract().jsonPath();
        return json.getList("items");
    }
}
