package io.hypervise.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Paths and methods nobody serves: a 404 (or 405) for everyone, signed in or not, as a page for a
 * browser's pages and as a problem document for the API; never a 500.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UnknownPathsTest {

    private static final List<String> PAGES = List.of("/admin/xyz", "/admin/hosts", "/admin/hosts/", "/admin/vms",
            "/admin/audit/xyz", "/portal/xyz", "/portal/vms", "/portal/vms/a/b", "/admin/%C3%A9t%C3%A9");
    private static final List<String> OTHERS = List.of("/api/v1/xyz", "/api/v1/vms/a/b/c", "/api/xyz", "/ui/xyz",
            "/console/a/b", "/console/a/websockify/x", "/xyz", "/q/xyz");

    @TestHTTPResource("/")
    URL url;

    private String base;
    private final Map<String, HttpBrowser> callers = new java.util.LinkedHashMap<>();

    @BeforeAll
    void signIn() {
        base = "http://127.0.0.1:" + url.getPort(); // Keycloak accepts any port on the loopback address
        callers.put("anonymous", new HttpBrowser());
        for (String user : List.of("admin", "alice")) {
            HttpBrowser browser = new HttpBrowser();
            HttpResponse<String> landed = browser.signIn(base, user, user);
            assertThat(landed.statusCode()).as(user + " signed in, at " + landed.uri()).isEqualTo(200);
            callers.put(user, browser);
        }
    }

    @Test
    void unknownPagesAreNotFoundPagesForEveryone() {
        List<String> wrong = new ArrayList<>();
        callers.forEach((who, browser) -> {
            for (String path : PAGES) {
                for (String method : List.of("GET", "HEAD")) {
                    HttpResponse<String> response = send(browser, method, path);
                    String type = response.headers().firstValue("Content-Type").orElse("");
                    if (response.statusCode() != 404 || !type.startsWith("text/html")
                            || method.equals("GET") && !response.body().contains("Not found")) {
                        wrong.add(who + " " + method + " " + path + ": " + response.statusCode() + " " + type);
                    }
                }
            }
        });
        assertThat(wrong).isEmpty();
    }

    @Test
    void unknownPathsAndMethodsAreNeverAServerError() {
        List<String> wrong = new ArrayList<>();
        callers.forEach((who, browser) -> {
            List<String> paths = new ArrayList<>(PAGES);
            paths.addAll(OTHERS);
            paths.addAll(List.of("/admin", "/portal", "/admin/jobs", "/api/v1/vms", "/login"));
            for (String path : paths) {
                for (String method : List.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")) {
                    int status = send(browser, method, path).statusCode();
                    if (status >= 500) {
                        wrong.add(who + " " + method + " " + path + ": " + status);
                    }
                }
            }
        });
        assertThat(wrong).isEmpty();
    }

    @Test
    void signingOutWithoutASessionGoesHome() {
        HttpResponse<String> response = send(new HttpBrowser(), "GET", "/logout");
        assertThat(response.statusCode()).isEqualTo(303);
        assertThat(response.headers().firstValue("Location").orElse("")).endsWith("/");
    }

    @Test
    void unknownApiPathsAreProblemDocuments() {
        for (String path : List.of("/api/v1/xyz", "/api/v1/vms/a/b/c")) {
            HttpResponse<String> response = send(callers.get("anonymous"), "GET", path);
            assertThat(response.statusCode()).as(path).isEqualTo(404);
            assertThat(response.headers().firstValue("Content-Type").orElse("")).as(path).startsWith("application/problem+json");
            ApiAccessTest.as("alice").when().get(path).then().statusCode(404).contentType("application/problem+json");
        }
    }

    private HttpResponse<String> send(HttpBrowser browser, String method, String path) {
        return browser.send(method, URI.create(base + path), HttpRequest.BodyPublishers.noBody(), null);
    }
}
