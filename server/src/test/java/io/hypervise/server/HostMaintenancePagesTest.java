package io.hypervise.server;

import static io.hypervise.server.testing.Tokens.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItems;

import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The host page's maintenance card: administrators put the host into maintenance mode and take it out, and empty it
 * (here with no guest running: the job has nothing to move and succeeds); operators see none of it and are refused
 * if they post by hand.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class HostMaintenancePagesTest {

    private static final Map<String, String> HTMX = Map.of("HX-Request", "true",
            "Content-Type", "application/x-www-form-urlencoded");

    @TestHTTPResource("/")
    URL url;

    @Inject
    LocalHost localHost;

    @Test
    void administratorsStartAndEndMaintenanceAndEmptyTheHostFromItsPage() throws Exception {
        String base = "http://127.0.0.1:" + url.getPort();
        String host = localHost.id();
        URI page = URI.create(base + "/admin/hosts/" + host);

        HttpBrowser operator = new HttpBrowser();
        assertThat(operator.signIn(base, "operator", "operator").statusCode()).isEqualTo(200);
        assertThat(operator.get(page).body()).contains("Virtual switches").doesNotContain("Start maintenance")
                .doesNotContain("Empty this host");
        assertThat(post(operator, base + "/ui/hosts/" + host + "/maintenance", "on=true").statusCode()).isEqualTo(403);
        assertThat(post(operator, base + "/ui/hosts/" + host + "/evacuate", "").statusCode()).isEqualTo(403);

        HttpBrowser admin = new HttpBrowser();
        assertThat(admin.signIn(base, "admin", "admin").statusCode()).isEqualTo(200);
        String before = admin.get(page).body();
        assertThat(before).contains("id=\"maintenance\"", "Start maintenance", "Empty this host").doesNotContain("End maintenance");
        try {
            HttpResponse<String> on = post(admin, base + "/ui/hosts/" + host + "/maintenance", "on=true");
            assertThat(on.statusCode()).isEqualTo(204);
            assertThat(on.headers().firstValue("HX-Trigger").orElse("")).contains("hv-reload", "is in maintenance mode");
            as("admin").when().get("/api/v1/hosts/" + host).then().statusCode(200).body("maintenance", equalTo(true));
            assertThat(admin.get(page).body()).contains("In maintenance mode:", "End maintenance")
                    .doesNotContain("Start maintenance");

            HttpResponse<String> emptied = post(admin, base + "/ui/hosts/" + host + "/evacuate", "");
            assertThat(emptied.statusCode()).isEqualTo(204);
            String trigger = emptied.headers().firstValue("HX-Trigger").orElse("");
            Matcher job = Pattern.compile("job ([0-9a-f-]{36})").matcher(trigger);
            assertThat(job.find()).as("the message names the job: %s", trigger).isTrue();
            VmApiTest.awaitJob("admin", job.group(1));
            as("auditor").queryParam("target", "host:" + host).when().get("/api/v1/audit").then().statusCode(200)
                    .body("items.action", hasItems("host.maintenance", "host.evacuate"));
            assertThat(post(admin, base + "/ui/hosts/nowhere/evacuate", "").statusCode()).isEqualTo(404);
        } finally {
            assertThat(post(admin, base + "/ui/hosts/" + host + "/maintenance", "on=false").statusCode()).isEqualTo(204);
        }
        as("admin").when().get("/api/v1/hosts/" + host).then().statusCode(200).body("maintenance", equalTo(false));
        assertThat(admin.get(page).body()).contains("Start maintenance");
    }

    private static HttpResponse<String> post(HttpBrowser browser, String uri, String form) {
        return browser.sendWith("POST", URI.create(uri), HttpRequest.BodyPublishers.ofString(form), HTMX);
    }
}
