package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.storage.LoopDevice;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;

/**
 * The host's block devices and pass-through disks in the admin console, with real loop devices over sparse files
 * (tests run as root) and a real tiny-linux guest: the API lists each whole device with why it cannot be given (the
 * host's root disk, a device another VM has); the host's page shows them to administrators; the VM's Add disk…
 * dialog offers an administrator the free ones, and the running guest sees the one chosen. Operators see neither
 * the devices nor the choice, and a device sent by hand is refused them. Screenshots go to target/screenshots.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostDevicesPagesTest {

    private static final long MIB = 1 << 20;
    private static final String WEB = "device pages web";
    private static final String HOLDER = "device pages holder";

    @TestHTTPResource("/")
    URL url;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @Inject
    LocalHost localHost;

    private final List<String> made = new ArrayList<>();
    private final List<LoopDevice> loops = new ArrayList<>();
    private Path dir;
    private Path spareFile;
    private String spare;
    private String taken;
    private String web;
    private ChromeDriver browser;

    @BeforeAll
    void makeLoopDevices() throws Exception {
        dir = Files.createTempDirectory("hv-device-pages");
        spareFile = dir.resolve("spare.img");
        spare = attach(LoopDevice.over(spareFile, 48 * MIB));
        taken = attach(LoopDevice.over(dir.resolve("taken.img"), 40 * MIB));
    }

    @AfterAll
    void removeTheVmsAndDetach() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        for (String vm : made) {
            if (engine.vms().find(vm).isPresent()) {
                if (engine.vms().status(vm).state() != VmState.OFF) {
                    engine.vms().turnOff(vm);
                }
                vms.delete(Caller.host(), vm);
            }
        }
        for (LoopDevice loop : loops) {
            loop.close();
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    @Test
    @Order(10)
    void theApiListsTheHostsWholeDisksWithWhyEachCannotBeGivenToAdministratorsOnly() {
        JsonPath listed = as("admin").when().get("/api/v1/host/block-devices").then().statusCode(200).extract().jsonPath();
        Map<String, Object> free = device(listed, spare);
        assertThat(free).containsEntry("sizeBytes", (int) (48 * MIB)).containsEntry("backingFile", spareFile.toString())
                .containsEntry("usable", true).containsEntry("reason", null).containsEntry("vm", null);
        assertThat(listed.<Map<String, Object>>getList("items")).as("the host's root disk, never to be given")
                .anyMatch(d -> Boolean.FALSE.equals(d.get("usable"))
                        && String.valueOf(d.get("reason")).startsWith("holds the host's root file system (/)"));
        assertThat(listed.getInt("total")).isEqualTo(listed.getList("items").size());

        // Given to a VM (Off: nothing runs), the device says which.
        String holder = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"%s","display":"none","memoryMib":160,"disks":[{"device":"%s"}]}"""
                .formatted(HOLDER, taken)).when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(holder);
        Map<String, Object> given = device(as("admin").when().get("/api/v1/host/block-devices").then().statusCode(200)
                .extract().jsonPath(), taken);
        assertThat(given).containsEntry("usable", false).containsEntry("vm", Map.of("id", holder, "name", HOLDER));
        assertThat((String) given.get("reason")).isEqualTo("is given to VM '" + HOLDER + "' (" + holder
                + "); a device is given to one VM at a time");

        as("operator").when().get("/api/v1/host/block-devices").then().statusCode(403);
        as("auditor").when().get("/api/v1/host/block-devices").then().statusCode(403);
        as("alice").when().get("/api/v1/host/block-devices").then().statusCode(403);
    }

    @Test
    @Order(20)
    void anAdministratorSeesTheHostsDisksAndPassesAFreeOneThroughToARunningGuestFromTheVmsPage() throws Exception {
        String base = "http://127.0.0.1:" + url.getPort();
        web = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"%s","display":"none","memoryMib":160,"disks":[{"sizeMib":8,"format":"qcow2"}]}"""
                .formatted(WEB)).when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(web);
        VmApiTest.awaitJob("admin", as("admin").when().post("/api/v1/vms/" + web + "/start").then().statusCode(202)
                .extract().path("id"));
        awaitSerial(web, "hv-disk vda " + 8 * MIB);

        browser = Browser.chromium(1280, 1500);
        String hostPage = base + "/admin/hosts/" + localHost.id();
        browser.get(hostPage);
        Browser.signIn(browser, "admin", hostPage);
        await("the host's block devices", () -> !browser.findElements(By.cssSelector("#block-devices tr.device-row")).isEmpty());
        assertThat(deviceRow(spare)).isEqualTo(spare + " 48.0 MiB a loop device over " + spareFile + " free");
        assertThat(deviceRow(taken)).endsWith(" given to " + HOLDER);
        assertThat(rows("#block-devices tr.device-row")).as("the root disk, with the engine's reason")
                .anyMatch(r -> r.contains("not available holds the host's root file system (/)"));
        Browser.screenshot(browser, "host-block-devices.png");
        assertAccessible("the host's page with its block devices");

        String vmPage = base + "/admin/vms/" + web;
        browser.get(vmPage);
        await("the VM's disks", () -> rows("#vm-storage tr.disk-row").size() == 1);
        // The buttons at the page's head open their dialogs too (the head's own refresh selects nothing of theirs).
        button("Settings…").click();
        await("the settings dialog, with its title", () -> browser.findElements(By.cssSelector("#dialog h2")).stream()
                .anyMatch(h -> h.getText().equals("Settings of " + WEB)));
        browser.findElement(By.cssSelector("#dialog [data-close]")).click();
        await("the settings dialog closed", () -> !browser.findElement(By.id("dialog")).isDisplayed());
        button("Add disk…").click();
        await("the disk dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(text("#dialog")).contains("a blank disk").contains("a host disk (pass-through)");
        assertThat(dialogField("device").isDisplayed()).as("the devices, until a host disk is chosen").isFalse();
        browser.findElement(By.cssSelector("#dialog input[name=source][value=device]")).click();
        Select devices = new Select(dialogField("device"));
        assertThat(devices.getOptions()).extracting(WebElement::getText).as("the free devices alone")
                .contains(spare + " — 48.0 MiB, a loop device over " + spareFile)
                .noneMatch(o -> o.startsWith(taken + " "));
        assertThat(text("#dialog")).contains("reads and writes the host's hardware directly");
        assertAccessible("the disk dialog with a host disk chosen");
        Browser.screenshot(browser, "disk-dialog-host-disk.png");
        devices.selectByValue(spare);
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("word that the disk was added", () -> text("#toast").equals("Added a disk to '" + WEB + "'"));
        await("the device listed", () -> rows("#vm-storage tr.disk-row").size() == 2);
        assertThat(rows("#vm-storage tr.disk-row").get(1)).startsWith("Disk 2 raw 48.0 MiB the host's device " + spare
                + ", passed through");
        awaitSerial(web, "hv-disk vdb " + 48 * MIB);
        as("admin").when().get("/api/v1/vms/" + web).then().statusCode(200).body("state", equalTo("Running"))
                .body("disks[1].path", equalTo(spare)).body("disks[1].hostDevice", equalTo(true));

        browser.get(hostPage);
        await("the host's block devices", () -> !browser.findElements(By.cssSelector("#block-devices tr.device-row")).isEmpty());
        assertThat(deviceRow(spare)).endsWith(" given to " + WEB);
        as("admin").when().get("/api/v1/host/block-devices").then().statusCode(200)
                .body("items.find { it.path == '" + spare + "' }.vm.id", equalTo(web));
        as("auditor").queryParam("action", "vm.disk.add").queryParam("target", "vm:" + web).when().get("/api/v1/audit")
                .then().statusCode(200).body("items[0].outcome", equalTo("SUCCEEDED"))
                .body("items[0].actor", equalTo("admin")).body("items[0].parameters.device", equalTo(spare));
    }

    @Test
    @Order(30)
    void anOperatorIsOfferedNoHostDiskAndSeesNoneAndOneSentByHandIsRefused() throws Exception {
        String base = "http://127.0.0.1:" + url.getPort();
        // Free again: taken from the guest through the API, it leaves the guest.
        as("admin").when().delete("/api/v1/vms/" + web + "/disks/1").then().statusCode(200);
        awaitSerial(web, "hv-disk-gone vdb");

        HttpBrowser operator = new HttpBrowser();
        assertThat(operator.signIn(base, "operator", "operator").statusCode()).isEqualTo(200);
        String dialog = operator.get(URI.create(base + "/ui/vms/" + web + "/disks/new")).body();
        assertThat(dialog).contains("Add a disk to " + WEB).doesNotContain("pass-through").doesNotContain("value=\"device\"")
                .doesNotContain(spare);
        String host = operator.get(URI.create(base + "/admin/hosts/" + localHost.id())).body();
        assertThat(host).contains("Virtual switches").doesNotContain("Block devices").doesNotContain(spare);

        HttpResponse<String> refused = operator.sendWith("POST", URI.create(base + "/ui/vms/" + web + "/disks"),
                HttpRequest.BodyPublishers.ofString("source=device&device=" + spare),
                Map.of("HX-Request", "true", "Content-Type", "application/x-www-form-urlencoded"));
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).contains("only administrators");
        as("admin").when().get("/api/v1/vms/" + web).then().statusCode(200).body("disks.size()", equalTo(1))
                .body("state", equalTo("Running"));
        as("admin").when().get("/api/v1/host/block-devices").then().statusCode(200)
                .body("items.find { it.path == '" + spare + "' }.usable", equalTo(true))
                .body("items.find { it.path == '" + spare + "' }.vm", nullValue());
        as("auditor").queryParam("action", "vm.disk.add").queryParam("outcome", "DENIED").queryParam("actor", "operator")
                .when().get("/api/v1/audit").then().statusCode(200)
                .body("items[0].reason", containsString(spare)).body("items[0].target", startsWith("vm:" + web));

        // A host disk chosen without a device is refused by name.
        HttpBrowser admin = new HttpBrowser();
        assertThat(admin.signIn(base, "admin", "admin").statusCode()).isEqualTo(200);
        HttpResponse<String> none = admin.sendWith("POST", URI.create(base + "/ui/vms/" + web + "/disks"),
                HttpRequest.BodyPublishers.ofString("source=device&device="),
                Map.of("HX-Request", "true", "Content-Type", "application/x-www-form-urlencoded"));
        assertThat(none.statusCode()).isEqualTo(400);
        assertThat(none.body()).contains("\"field\":\"device\"");
    }

    // ---------------------------------------------------------------- helpers

    @SuppressWarnings("unchecked")
    private static Map<String, Object> device(JsonPath listed, String path) {
        return listed.<Map<String, Object>>getList("items").stream().filter(d -> path.equals(d.get("path"))).findFirst()
                .orElseThrow(() -> new AssertionError(path + " not listed: " + listed.prettify()));
    }

    private String deviceRow(String path) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector("#block-devices tr[data-device='" + path + "']"))
                .getText().replaceAll("\\s+", " ").trim());
    }

    private List<String> rows(String css) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector(css)).stream()
                .map(r -> r.getText().replaceAll("\\s+", " ").trim()).toList());
    }

    private String text(String css) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector(css)).getText());
    }

    private WebElement dialogField(String name) {
        return browser.findElement(By.cssSelector("#dialog [name=" + name + "]"));
    }

    private WebElement button(String label) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("button")).stream()
                .filter(b -> b.isDisplayed() && b.getText().equals(label)).findFirst()
                .orElseThrow(() -> new AssertionError("no button '" + label + "' on " + browser.getCurrentUrl())));
    }

    private void assertAccessible(String what) {
        assertThat(Browser.accessibilityViolations(browser)).as("accessibility of " + what).isEmpty();
    }

    private void await(String what, BooleanSupplier condition) {
        Browser.await(browser, what, Duration.ofSeconds(60), condition);
    }

    private static void awaitSerial(String vm, String marker) throws InterruptedException {
        String serial = "";
        for (int i = 0; i < 400; i++) {
            serial = as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=400").then().statusCode(200).extract().asString();
            if (serial.lines().anyMatch(l -> l.equals(marker))) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " did not print '" + marker + "'; its serial console:\n" + serial);
    }

    /** The loop device's path, kept to be detached when the tests end. */
    private String attach(LoopDevice loop) {
        loops.add(loop);
        return loop.path().toString();
    }
}
