package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.vm.VmRequests;
import io.hypervise.server.vm.VmService;
import io.hypervise.server.jobs.JobEntity;
import io.hypervise.server.network.SwitchRequest;
import io.hypervise.server.network.Switches;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URL;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;

/**
 * The admin console and the portal in a real browser (headless Chromium), signed in through
 * Keycloak's login form, against a real tiny-linux guest: what an administrator, a self-service user
 * and an auditor each see and can do. Screenshots go to target/screenshots. One guest serves every
 * step; the steps run in order.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BrowserPagesTest {

    private static final String WEB = "pages web";
    private static final String BOBS = "bob's box";
    private static final String ALICES = "alice's box";

    @TestHTTPResource("/")
    URL url;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @Inject
    Switches switches;

    private String base;
    private String webId;
    private ChromeDriver browser;

    @Test
    @Order(0)
    void anAdministratorCreatesAndStartsAVmAndSeesItRunningWithAThumbnail() throws IOException {
        base = "http://127.0.0.1:" + url.getPort(); // Keycloak accepts any port on the loopback address
        TestPolicies.ensureStubTemplate(engine);
        TestPolicies.allowEverything("pages-alice", "alice");
        onlyStartAndConsoleFor("bob");
        removeTheVmsOf("bob");
        aStubVm("pages-bob-box", BOBS, "bob");
        aStubVm("pages-alice-box", ALICES, "alice");
        aJobWithoutAVm();
        browser = Browser.chromium(1280, 800);

        // Other test classes share this server: the list is filtered to this test's VM (an empty list at first).
        browser.get(base + "/admin?name=" + WEB.replace(' ', '+'));
        Browser.signIn(browser, "admin", base + "/admin");
        assertThat(browser.findElements(By.cssSelector("tr.vm-row"))).isEmpty();
        button("New virtual machine").click();
        await("the new-VM wizard", () -> browser.findElement(By.id("dialog")).isDisplayed());
        new Select(browser.findElement(By.cssSelector("#dialog select[name=template]"))).selectByValue("tiny-linux");
        browser.findElement(By.cssSelector("#dialog input[name=name]")).sendKeys(WEB);
        browser.findElement(By.cssSelector("#dialog [data-next]")).click();
        browser.findElement(By.cssSelector("#dialog input[name=memoryMib]")).sendKeys("128");
        browser.findElement(By.cssSelector("#dialog [data-next]")).click();
        button("Check").click();
        await("the check's answer", () -> browser.findElement(By.id("check-result")).getText().contains("would be accepted"));
        Browser.screenshot(browser, "admin-new-vm-wizard.png");
        assertAccessible("the new-VM wizard");
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("word that the VM was created", () -> browser.findElement(By.id("toast")).getText().contains("Created '" + WEB + "'"));

        // No reload: the list follows the VM from Off through Starting to Running by itself.
        await("the new VM's row to say Running", () -> row(WEB) != null && row(WEB).getText().contains("Running"));
        webId = Browser.fresh(() -> row(WEB).getAttribute("data-vm-id"));
        awaitSerial(webId, "HYPERVISE-READY");
        await("a thumbnail showing the guest's text", () -> {
            List<WebElement> thumbs = row(WEB).findElements(By.cssSelector("img.thumb"));
            return !thumbs.isEmpty() && loaded(thumbs.get(0)) && ConsoleTest.foregroundPixels(image(thumbs.get(0))) > 20;
        });
        await("the VM's CPU now, with its last minutes as a line", () -> {
            List<WebElement> cpu = row(WEB).findElements(By.cssSelector(".use-num"));
            return !cpu.isEmpty() && cpu.get(0).getText().matches("\\d+ %")
                    && !row(WEB).findElements(By.cssSelector("svg.spark polyline")).isEmpty();
        });
        Browser.screenshot(browser, "admin-console.png");
        assertAccessible("the admin console");
        // The checker itself finds what it should: an image without a text alternative.
        browser.executeScript("const i = document.createElement('img'); i.id = 'hv-no-alt'; i.src = '/ui/favicon.svg';"
                + " document.getElementById('main').append(i);");
        assertThat(Browser.accessibilityViolations(browser)).anyMatch(v -> v.contains("image-alt"));
        browser.executeScript("document.getElementById('hv-no-alt').remove();");
    }

    @Test
    @Order(1)
    void theActionsPaneOffersWhatTheRunningVmAllows() {
        Browser.fresh(() -> {
            row(WEB).findElement(By.cssSelector("a.vm-link")).click();
            return null;
        });
        await("the actions pane of " + WEB, () -> browser.findElement(By.id("actions")).getText().contains(webId));
        assertThat(buttonsIn(By.id("actions")))
                .contains("Connect…", "Shut down", "Turn off", "Pause", "Save", "Reset", "Settings…")
                .doesNotContain("Start", "Resume", "Delete", "Export", "Store in library…");
        assertThat(browser.getCurrentUrl()).endsWith("/admin?vm=" + webId);
        Browser.screenshot(browser, "admin-actions-pane.png");
        assertAccessible("the actions pane");

        // A click on Pause, and the pane follows the VM into its new state.
        button("Pause").click();
        await("the pane to show the VM Paused", () -> buttonsIn(By.id("actions")).contains("Resume"));
        assertThat(as("admin").when().get("/api/v1/vms/" + webId).then().extract().<String>path("state")).isEqualTo("Paused");
        button("Resume").click();
        await("the pane to show the VM Running again", () -> buttonsIn(By.id("actions")).contains("Pause"));

        // A change made elsewhere (a script, through the API) reaches the open page as a server-sent event.
        browser.executeScript("window.hvEvents = []; new EventSource('/ui/events').onmessage = e => hvEvents.push(e.data);");
        Browser.sleep(500);
        as("operator").when().post("/api/v1/vms/" + webId + "/pause").then().statusCode(200);
        await("a server-sent event for the pause",
                () -> String.valueOf(browser.executeScript("return window.hvEvents.join(',');")).contains("vms-changed"));
        await("the pane to show the VM Paused", () -> buttonsIn(By.id("actions")).contains("Resume"));
        as("operator").when().post("/api/v1/vms/" + webId + "/resume").then().statusCode(200);
        await("the pane to show the VM Running again", () -> buttonsIn(By.id("actions")).contains("Pause"));

        browser.findElement(By.cssSelector(".tree a[href^='/admin/hosts/']")).click();
        await("the host's page", () -> browser.findElement(By.tagName("main")).getText().contains("Capabilities"));
        assertThat(browser.findElement(By.tagName("main")).getText()).contains("Accelerator").contains("tcg")
                .contains("Memory in use").contains("1 running");
        assertThat(browser.findElement(By.id("confinement")).getText()).startsWith("confined")
                .contains("QEMU seccomp sandbox").contains("private mount namespace");
        await("the host's utilization plots", () -> browser.findElements(By.cssSelector(".metrics figure.chart canvas")).size() >= 4);
        Browser.screenshot(browser, "admin-host.png");
        assertAccessible("the host page");

        // Virtual switches are made and removed on the host's page.
        browser.findElement(By.cssSelector("form.inline-form input[name=id]")).sendKeys("pages");
        new Select(browser.findElement(By.cssSelector("form.inline-form select[name=kind]"))).selectByValue("private");
        browser.findElement(By.cssSelector("form.inline-form button[type=submit]")).click();
        await("the new switch in the host's list",
                () -> Browser.fresh(() -> browser.findElement(By.id("switch-list")).getText()).contains("pages"));
        assertThat(browser.findElement(By.id("toast")).getText()).contains("Created virtual switch 'pages'");
        assertThat(as("admin").when().get("/api/v1/switches/pages").then().extract().<String>path("kind")).isEqualTo("private");
        Browser.screenshot(browser, "admin-host-switches.png");
        assertAccessible("the host page with a switch");
        onAPhone(() -> Browser.screenshot(browser, "admin-host-phone.png")); // the switches' table scrolls in its card
        Browser.fresh(() -> {
            browser.findElement(By.cssSelector("#switch-list button.danger")).click();
            return null;
        });
        browser.switchTo().alert().accept();
        await("the switch gone from the list",
                () -> Browser.fresh(() -> browser.findElement(By.id("switch-list")).getText()).contains("No virtual switches"));
        as("admin").when().get("/api/v1/switches/pages").then().statusCode(404);

        browser.get(base + "/admin/vms/" + webId);
        await("the VM's utilization plots (CPU and memory: it has no disk)",
                () -> browser.findElements(By.cssSelector(".metrics figure.chart")).size() == 2);
        assertThat(browser.findElement(By.cssSelector(".metrics figure.chart")).getAttribute("aria-label"))
                .startsWith("CPU (cores), latest: worker ");
        assertThat(browser.findElement(By.cssSelector(".metrics [role=status]")).getText())
                .as("the NICs' counters are said to be missing, and why").contains("nic.net0").contains("not connected to a virtual switch");
        Browser.screenshot(browser, "admin-vm-page.png");
        assertAccessible("the VM's page");
    }

    @Test
    @Order(2)
    void theBrowsersMistakesAndForgeriesGetClearRefusals() {
        assertThat(fetch("POST", "/ui/vms", "vcpus=lots&template=tiny-linux", true))
                .startsWith("400 ").contains("\"field\":\"vcpus\"").contains("must be a whole number");
        assertThat(fetch("POST", "/ui/vms/" + webId + "/do/pause", null, false))
                .as("a change without htmx's header: another site's form").startsWith("403 ")
                .contains("must come from Hypervise's own pages");
        assertThat(as("admin").when().get("/api/v1/vms/" + webId).then().extract().<String>path("state")).isEqualTo("Running");
    }

    @Test
    @Order(3)
    void aSelfServiceUserSeesOnlyTheirOwnVmsAndOnlyTheActionsTheirPolicyAllows() {
        Browser.signOut(browser);
        browser.get(base + "/login");
        Browser.signIn(browser, "bob", base + "/");
        await("the portal", () -> browser.getCurrentUrl().equals(base + "/portal"));
        assertThat(Browser.fresh(() -> browser.findElements(By.cssSelector(".vm-card h2")).stream().map(WebElement::getText).toList()))
                .containsExactly(BOBS);
        assertThat(buttonsIn(By.cssSelector(".vm-card"))).as("bob's policy allows start and the console; his VM is Off")
                .containsExactly("Start");
        assertThat(browser.findElement(By.cssSelector(".quota")).getText()).contains("1 of 5 VMs");
        assertThat(browser.findElement(By.tagName("nav")).getText()).contains("My VMs").doesNotContain("Audit log");
        Browser.screenshot(browser, "portal-bob.png");
        assertAccessible("the portal");

        // The wizard offers bob the one switch his policy names, and no other.
        switches.create(new SwitchRequest("pagesbob", "Bob's lab", "private", null), Caller.host());
        switches.create(new SwitchRequest("pagesother", "Someone else's", "private", null), Caller.host());
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.<PolicyEntity>findById("pages-bob").switches = new String[] {"pagesbob"});
        button("New virtual machine…").click();
        await("the new-VM wizard", () -> browser.findElement(By.id("dialog")).isDisplayed());
        browser.findElement(By.cssSelector("#dialog [data-next]")).click();
        assertThat(new Select(browser.findElement(By.cssSelector("#dialog select[name=network]"))).getOptions())
                .extracting(WebElement::getText)
                .containsExactly("its own isolated network (not counted)", "switch Bob's lab (private)");
        browser.findElement(By.cssSelector("#dialog [data-close]")).click();

        browser.get(base + "/admin");
        assertThat(browser.findElement(By.tagName("main")).getText()).contains("Not allowed")
                .contains("bob has no role that may read hosts");
        browser.get(base + "/portal/vms/pages-alice-box");
        assertThat(browser.findElement(By.tagName("main")).getText()).as("alice's VM does not exist for bob")
                .contains("Not found");
        browser.get(base + "/portal");
        onAPhone(() -> Browser.screenshot(browser, "portal-bob-phone.png"));
    }

    @Test
    @Order(4)
    void anAuditorSeesTheAuditLogAndNoActionButtons() {
        Browser.signOut(browser);
        browser.get(base + "/admin?name=" + WEB.replace(' ', '+'));
        Browser.signIn(browser, "auditor", base + "/admin");
        assertThat(browser.findElements(By.tagName("button"))).extracting(WebElement::getText).containsOnly("Filter");
        Browser.fresh(() -> {
            row(WEB).findElement(By.cssSelector("a.vm-link")).click();
            return null;
        });
        await("the details of " + WEB, () -> browser.findElement(By.id("actions")).getText().contains(webId));
        assertThat(buttonsIn(By.id("actions"))).isEmpty();
        assertThat(Browser.fresh(() -> row(WEB).findElements(By.cssSelector("img.thumb")))).as("auditors see no screens").isEmpty();
        onAPhone(() -> Browser.screenshot(browser, "admin-auditor-phone.png"));

        browser.get(base + "/admin/audit?action=vm.create&target=vm:" + webId);
        assertThat(browser.findElement(By.cssSelector("table.audit tbody")).getText())
                .contains("admin").contains("vm.create").contains("SUCCEEDED");
        button("Verify the hash chain").click();
        await("the chain's verification", () -> browser.findElement(By.id("chain-result")).getText().contains("The chain is intact"));
        Browser.screenshot(browser, "audit-log.png");
        assertAccessible("the audit log");
    }

    @Test
    @Order(5)
    void anAdministratorExtendsALeaseFromTheActionsPane() {
        QuarkusTransaction.requiringNew().run(() -> VmEntity.<VmEntity>findById("pages-bob-box").leaseExpiresAt =
                Instant.now().plus(Duration.ofDays(1)));
        Browser.signOut(browser);
        browser.get(base + "/admin?vm=pages-bob-box");
        Browser.signIn(browser, "admin", base + "/admin");
        await("the lease form", () -> !browser.findElements(By.cssSelector("form.lease input")).isEmpty());
        browser.executeScript("document.querySelector('form.lease input').value = '2031-01-02T03:04';");
        button("Extend").click();
        await("word that the lease was extended", () -> browser.findElement(By.id("toast")).getText()
                .contains("now ends 2031-01-02 03:04:00 UTC"));
        assertThat(as("admin").when().get("/api/v1/vms/pages-bob-box").then().extract().<String>path("lease.expiresAt"))
                .isEqualTo("2031-01-02T03:04:00Z");
        Browser.screenshot(browser, "admin-lease.png");
    }

    @AfterAll
    void closeEverything() {
        if (browser != null) {
            browser.quit();
        }
        // The VM the browser created, found by its name: the test may have failed before it learnt its id.
        QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name", WEB)).stream()
                .filter(vm -> engine.vms().status(vm.id).state() != VmState.OFF)
                .forEach(vm -> engine.vms().turnOff(vm.id));
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity.deleteById("pages-alice");
            PolicyEntity.deleteById("pages-bob");
        });
        for (String id : List.of("pagesbob", "pagesother")) {
            if (switches.find(id).isPresent()) {
                switches.delete(id, Caller.host());
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /** An enforced policy: bob may create VMs from the stub template, start them and use their console. */
    private static void onlyStartAndConsoleFor(String user) {
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity p = new PolicyEntity();
            p.id = "pages-" + user;
            p.name = "Start and console only";
            p.description = "";
            p.precedence = 1;
            p.enforced = true;
            p.assignedUsers = new String[] {user};
            p.hostGroups = new String[] {"default"};
            p.templates = new String[] {TestPolicies.STUB};
            p.actions = new String[] {"start", "console"};
            p.maxVms = 5;
            p.createdAt = Instant.now();
            p.updatedAt = p.createdAt;
            p.persist();
        });
    }

    /** A job not about one VM (the jobs strip must still read well: no empty link). */
    private static void aJobWithoutAVm() {
        JobEntity job = new JobEntity();
        job.id = java.util.UUID.randomUUID();
        job.kind = "maintenance";
        job.actor = "system";
        job.state = JobEntity.State.SUCCEEDED;
        job.progress = 100;
        job.createdAt = Instant.now();
        job.updatedAt = job.createdAt;
        QuarkusTransaction.requiringNew().run(job::persist);
    }

    /** Other test classes share this server and database; bob's portal is to show this test's VM alone. */
    private void removeTheVmsOf(String owner) {
        QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("owner", owner)).forEach(vm -> {
            if (engine.vms().status(vm.id).state() != VmState.OFF) {
                engine.vms().turnOff(vm.id);
            }
            vms.delete(Caller.host(), vm.id);
        });
    }

    private void aStubVm(String id, String name, String owner) {
        vms.create(new Caller(owner, Set.of(), Set.of(), "127.0.0.1"), new VmRequests.NewVm(new VmDefinition(id, name,
                1, 64, DeviceProfile.ENLIGHTENED, List.of(), List.of(),
                new BootSource.Kernel(engine.storage().path().resolve("stub-kernel"), null, ""), Display.NONE),
                Map.of(), TestPolicies.STUB));
    }

    /** What axe-core finds against WCAG 2 A and AA on the page as it is now: nothing. */
    private void assertAccessible(String what) {
        assertThat(Browser.accessibilityViolations(browser)).as("accessibility of " + what).isEmpty();
    }

    /** The page at a phone's size: nothing may stick out sideways. */
    private void onAPhone(Runnable look) {
        Dimension wide = browser.manage().window().getSize();
        browser.manage().window().setSize(new Dimension(390, 844));
        browser.navigate().refresh();
        Browser.sleep(1500);
        Number overflow = (Number) browser.executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
        look.run();
        browser.manage().window().setSize(wide);
        assertThat(overflow.intValue()).as("pixels the page is wider than a 390-pixel phone").isLessThanOrEqualTo(0);
    }

    private WebElement row(String name) {
        return browser.findElements(By.cssSelector("tr.vm-row")).stream()
                .filter(r -> r.findElement(By.cssSelector("a.vm-link")).getText().equals(name))
                .findFirst().orElse(null);
    }

    private WebElement button(String label) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("button")).stream()
                .filter(b -> b.isDisplayed() && b.getText().startsWith(label)).findFirst()
                .orElseThrow(() -> new AssertionError("no button '" + label + "' on " + browser.getCurrentUrl())));
    }

    private static List<String> buttonsIn(WebElement area) {
        return area.findElements(By.cssSelector("button, a.button")).stream().map(WebElement::getText).toList();
    }

    /** The buttons in an area that htmx may be swapping anew as we read it. */
    private List<String> buttonsIn(By area) {
        for (int attempt = 0; ; attempt++) {
            try {
                return buttonsIn(browser.findElement(area));
            } catch (StaleElementReferenceException e) {
                if (attempt == 10) {
                    throw e;
                }
                Browser.sleep(100);
            }
        }
    }

    private boolean loaded(WebElement image) {
        return Boolean.TRUE.equals(browser.executeScript("return arguments[0].complete && arguments[0].naturalWidth > 0;", image));
    }

    private static BufferedImage image(WebElement element) {
        try {
            return ImageIO.read(new ByteArrayInputStream(element.getScreenshotAs(OutputType.BYTES)));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** What the server answers a request the page's script sends: "STATUS body". */
    private String fetch(String method, String path, String form, boolean asHtmx) {
        return (String) browser.executeAsyncScript("""
                const [method, path, form, htmx, done] = arguments;
                const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
                if (htmx) { headers['HX-Request'] = 'true'; }
                fetch(path, { method, headers, body: form })
                  .then(r => r.text().then(t => done(r.status + ' ' + t)))
                  .catch(e => done('failed ' + e));""", method, path, form, asHtmx);
    }

    private void awaitSerial(String id, String marker) {
        await("the guest to print " + marker, () -> as("admin").when().get("/api/v1/vms/" + id + "/serial?lines=200")
                .then().extract().asString().contains(marker));
    }

    private void await(String what, java.util.function.BooleanSupplier condition) {
        Browser.await(browser, what, Duration.ofSeconds(60), condition);
    }
}
