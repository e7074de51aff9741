package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;

import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * The resource controls a policy gives its users' VMs ({@code vmResources}), on the Policies page in a real browser:
 * refused in the dialog by the API's field names and words, set (disk throughput typed in MiB/s), shown in the
 * policy's row, read back by the API with the policy's other settings untouched, audited, and cleared again. An
 * operator can neither open the dialog nor send it.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PolicyResourcesPageTest {

    private static final String ID = "page-controls";
    private static final String NAME = "Page controls";
    private static final String SETTINGS = """
            "name":"%s","precedence":900,"assignedUsers":["nobody-pc"],"maxVms":3""".formatted(NAME);

    @TestHTTPResource("/")
    URL url;

    private ChromeDriver browser;

    @AfterAll
    void removeWhatWasMade() {
        if (browser != null) {
            browser.quit();
        }
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById(ID));
    }

    @Test
    void anAdministratorSetsAPolicysVmResourcesOnThePoliciesPageAsTheApiWould() {
        String base = "http://127.0.0.1:" + url.getPort();
        as("admin").contentType("application/json").body("{\"id\":\"" + ID + "\"," + SETTINGS + "}").when()
                .post("/api/v1/policies").then().statusCode(201);

        browser = Browser.chromium(1280, 1200);
        String page = base + "/admin/policies";
        browser.get(page);
        Browser.signIn(browser, "admin", page);
        await("the policy's row", () -> cell().equals("none Change…"));
        change().click();
        await("the dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(text("#dialog h2")).isEqualTo("Resource controls of policy " + NAME);
        assertThat(browser.findElements(By.cssSelector("#dialog input")).stream().map(f -> f.getAttribute("name")).toList())
                .containsExactly("cpuWeight", "cpuCapPercent", "diskBytesPerSecond", "diskIops", "networkReceiveBitsPerSecond",
                        "networkTransmitBitsPerSecond");
        assertThat(fieldValues()).containsOnly("");
        assertAccessible("the policy's resources dialog");

        // Out of range: the API's fields and words, as a PUT of the same controls gets them.
        type("cpuWeight", "0");
        type("diskBytesPerSecond", "0");
        type("diskIops", "5");
        submit();
        String api = as("admin").contentType("application/json").body("{" + SETTINGS
                + ",\"vmResources\":{\"cpuWeight\":0,\"diskBytesPerSecond\":0,\"diskIops\":5}}")
                .when().put("/api/v1/policies/" + ID).then().statusCode(400).extract().<List<Map<String, String>>>path("violations")
                .stream().map(v -> v.get("field") + ": " + v.get("message")).collect(Collectors.joining("\n"));
        assertThat(api).contains("vmResources.cpuWeight: ", "vmResources.diskBytesPerSecond: ", "vmResources.diskIops: ");
        await("the API's refusal in the dialog", () -> text("#dialog .form-error").equals(api));
        Browser.screenshot(browser, "policy-resources-refused.png");
        type("cpuWeight", "abc");
        type("diskBytesPerSecond", "");
        type("diskIops", "99999999999");
        submit();
        await("a word that is no number", () -> text("#dialog .form-error").equals(
                "vmResources.cpuWeight: must be a whole number; got 'abc'"));
        type("cpuWeight", "50");
        submit();
        await("a number beyond any range, in the range's words", () -> text("#dialog .form-error").equals(
                "vmResources.diskIops: must be 10 to 10000000"));
        as("admin").when().get("/api/v1/policies/" + ID).then().statusCode(200).body("vmResources", nullValue());

        // Set: throughput typed in MiB/s and Mbit/s, kept in bytes and bits per second; the row says so; the rest
        // of the policy stays.
        type("cpuCapPercent", "40");
        type("diskBytesPerSecond", "10");
        type("diskIops", "");
        type("networkReceiveBitsPerSecond", "2.5");
        submit();
        await("word that they are set", () -> text("#toast").equals("Resource controls of policy '" + NAME + "' set"));
        await("the controls in the row", () -> cell().equals("CPU weight 50 CPU cap 40 % Disk throughput 10 MiB/s Network receive 2.5 Mbit/s Change…"));
        as("admin").when().get("/api/v1/policies/" + ID).then().statusCode(200)
                .body("vmResources.cpuWeight", equalTo(50)).body("vmResources.cpuCapPercent", equalTo(40))
                .body("vmResources.diskBytesPerSecond", equalTo(10 << 20)).body("vmResources.diskIops", nullValue())
                .body("vmResources.networkReceiveBitsPerSecond", equalTo(2_500_000))
                .body("vmResources.networkTransmitBitsPerSecond", nullValue())
                .body("maxVms", equalTo(3)).body("assignedUsers", equalTo(List.of("nobody-pc")))
                .body("precedence", equalTo(900)).body("templates", nullValue());
        as("auditor").queryParam("action", "policy.update").queryParam("target", "policy:" + ID).when().get("/api/v1/audit")
                .then().statusCode(200).body("items[0].actor", equalTo("admin")).body("items[0].outcome", equalTo("SUCCEEDED"));
        Browser.screenshot(browser, "policy-resources-set.png");
        assertAccessible("the Policies page with controls");

        change().click();
        await("the dialog again", () -> browser.findElement(By.id("dialog")).isDisplayed()
                && fieldValues().equals(List.of("50", "40", "10", "", "2.5", "")));
        for (String field : List.of("cpuWeight", "cpuCapPercent", "diskBytesPerSecond", "networkReceiveBitsPerSecond")) {
            type(field, "");
        }
        submit();
        await("word that there are none", () -> text("#toast").equals("Policy '" + NAME + "' gives VMs no resource controls now"));
        await("none in the row", () -> cell().equals("none Change…"));
        as("admin").when().get("/api/v1/policies/" + ID).then().statusCode(200).body("vmResources", nullValue());

        // Operators manage no policies: neither the dialog nor its form are theirs.
        HttpBrowser operator = new HttpBrowser();
        assertThat(operator.signIn(base, "operator", "operator").statusCode()).isEqualTo(200);
        assertThat(operator.get(URI.create(base + "/ui/policies/" + ID + "/vm-resources")).statusCode()).isEqualTo(403);
        assertThat(operator.sendWith("POST", URI.create(base + "/ui/policies/" + ID + "/vm-resources"),
                HttpRequest.BodyPublishers.ofString("cpuWeight=5"),
                Map.of("HX-Request", "true", "Content-Type", "application/x-www-form-urlencoded")).statusCode()).isEqualTo(403);
        as("admin").when().get("/api/v1/policies/" + ID).then().statusCode(200).body("vmResources", nullValue());
    }

    /** The policy's VM resources cell as its text reads. */
    private String cell() {
        return Browser.fresh(() -> row().findElement(By.cssSelector("td.vm-resources")).getText().replaceAll("\\s+", " ").trim());
    }

    private WebElement change() {
        return Browser.fresh(() -> row().findElement(By.cssSelector("td.vm-resources button")));
    }

    private WebElement row() {
        return browser.findElements(By.cssSelector("table.policies tbody tr")).stream()
                .filter(r -> r.findElement(By.cssSelector("th")).getText().contains("(" + ID + ";")).findFirst()
                .orElseThrow(() -> new AssertionError("no row of policy " + ID));
    }

    private List<String> fieldValues() {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("#dialog input")).stream()
                .map(f -> f.getAttribute("value")).toList());
    }

    private void type(String name, String value) {
        WebElement field = browser.findElement(By.cssSelector("#dialog [name=" + name + "]"));
        field.clear();
        field.sendKeys(value);
    }

    private void submit() {
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
    }

    private String text(String css) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector(css)).getText());
    }

    private void assertAccessible(String what) {
        assertThat(Browser.accessibilityViolations(browser)).as("accessibility of " + what).isEmpty();
    }

    private void await(String what, BooleanSupplier condition) {
        Browser.await(browser, what, Duration.ofSeconds(60), condition);
    }
}
