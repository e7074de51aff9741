package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.Browser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.vm.VmRequests;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * Export, Store in library and Import VM in a real browser (headless Chromium) against the real stack, with
 * VMs that are never booted: an administrator sees Export and Store in library on an Off VM, downloads
 * the archive through the Export link, stores the VM as a template through the dialog (its refusal shown
 * in the dialog first), and imports the downloaded archive through the import dialog, its upload's
 * progress shown, the new VM and what was not carried over named, the list showing it. A self-service
 * user sees Export on their VM only once their policy names the action, and their policy's refusal of an
 * archive in the import dialog. Screenshots go to target/screenshots.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VmArchivePagesTest {

    private static final int MIB = 1 << 20;
    private static final String WEB = "archive pages web";
    private static final String COPY = "archive pages copy";
    private static final String BOBS = "archive pages bob";
    private static final String BOB_POLICY = "archpages-bob";
    private static final String MAC = "52:54:00:ab:cd:5a";

    @TestHTTPResource("/")
    URL url;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    private ChromeDriver browser;
    private Path downloads;
    private Path archive;

    @AfterAll
    void removeWhatWasMade() throws IOException {
        if (browser != null) {
            browser.quit();
        }
        for (String name : List.of(WEB, COPY, BOBS)) {
            QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name", name))
                    .forEach(vm -> vms.delete(Caller.host(), vm.id));
        }
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById(BOB_POLICY));
        if (downloads != null) {
            try (Stream<Path> files = Files.list(downloads)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(downloads);
        }
    }

    @Test
    @Order(1)
    void anAdministratorExportsStoresAndImportsAVmThroughThePages() throws Exception {
        String base = "http://127.0.0.1:" + url.getPort();
        String web = anOffVmWithTwelveMibOfDisk();
        String template = "archive-pages-" + Long.toHexString(new Random().nextLong() & 0xffffffL);
        downloads = Files.createTempDirectory("hv-archive-downloads");

        browser = Browser.chromium(1280, 900);
        // Other test classes share this server: the list is filtered to this test's VMs.
        browser.get(base + "/admin?name=archive+pages&vm=" + web);
        Browser.signIn(browser, "admin", base + "/admin");
        await("the actions pane of " + WEB, () -> text("#actions").contains(web));
        assertThat(buttonsIn("#actions section[aria-labelledby=vm-actions-title] .buttons"))
                .as("an Off VM: export and store, besides start, settings, rating the hosts and delete")
                .containsExactly("Start", "Settings…", "Export", "Rate hosts…", "Store in library…", "Delete");
        assertThat(buttonsIn("#actions")).contains("Import VM…");
        Browser.screenshot(browser, "archive-vm-pane.png");
        assertAccessible("the actions pane with Export and Store in library");

        // Export: a plain link; the browser downloads the archive the API would send.
        browser.executeCdpCommand("Browser.setDownloadBehavior", Map.of("behavior", "allow",
                "downloadPath", downloads.toAbsolutePath().toString()));
        archive = downloads.resolve("archive-pages-web.hvm.tar");
        Browser.fresh(() -> {
            browser.findElement(By.linkText("Export")).click();
            return null;
        });
        await("the downloaded archive", () -> Files.exists(archive) && noPartialDownloads());
        assertThat(entries(archive)).containsExactly("hypervise-vm.json", "disks/disk0.qcow2", "SHA256SUMS");
        assertThat(Files.size(archive)).as("the disk's random 12 MiB, and more than the pages' 10 MiB body limit")
                .isGreaterThan(12L * MIB);
        assertThat(browser.getCurrentUrl()).as("the console stays where it was").startsWith(base + "/admin");
        await("the VM let go once the download ended",
                () -> as("admin").when().get("/api/v1/vms/" + web).then().extract().path("pending") == null);

        // Store in library: the dialog shows the server's refusal, then the job starts.
        button("Store in library…").click();
        await("the store dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(dialogField("template").getAttribute("value")).as("an id made from the VM's name").isEqualTo("archive-pages-web");
        assertThat(dialogField("name").getAttribute("value")).isEqualTo(WEB);
        dialogField("template").clear();
        dialogField("template").sendKeys("tiny-linux");
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("the refusal in the dialog", () -> text("#dialog .form-error").contains("template: a template 'tiny-linux' exists already"));
        Browser.screenshot(browser, "archive-store-refused.png");
        dialogField("template").clear();
        dialogField("template").sendKeys(template);
        dialogField("description").sendKeys("Made by the pages' test");
        assertAccessible("the store dialog");
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("word that the VM is being stored", () -> text("#toast")
                .equals("'" + WEB + "': being stored in the library as template '" + template + "' (see Jobs)"));
        assertThat(browser.findElement(By.id("dialog")).isDisplayed()).isFalse();
        String job = as("admin").queryParam("vm", web).when().get("/api/v1/jobs").then().statusCode(200).extract()
                .jsonPath().<Map<String, Object>>getList("items").stream().filter(j -> "vm-store".equals(j.get("kind")))
                .map(j -> (String) j.get("id")).findFirst().orElseThrow();
        VmApiTest.awaitJob("admin", job);
        as("admin").when().get("/api/v1/templates/" + template).then().statusCode(200);

        // Import VM: what is not an archive is refused in the dialog, in words.
        Path notAnArchive = downloads.resolve("notes.hvm.tar");
        Files.writeString(notAnArchive, "hello, not a tar");
        button("Import VM…").click();
        await("the import dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertAccessible("the import dialog");
        dialogField("file").sendKeys(notAnArchive.toAbsolutePath().toString());
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("the refusal in the dialog", () -> text("#dialog .form-error").startsWith("body: must be a VM archive"));

        // The archive the browser downloaded, sent slowly enough to be seen on its way.
        browser.executeCdpCommand("Network.enable", Map.of());
        browser.executeCdpCommand("Network.emulateNetworkConditions", Map.of("offline", false, "latency", 0,
                "downloadThroughput", -1, "uploadThroughput", 3 * MIB));
        dialogField("file").sendKeys(archive.toAbsolutePath().toString());
        dialogField("name").sendKeys(COPY);
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("the upload on its way", () -> text("#dialog [data-progress-text]").matches(".* \\(([1-9]|[1-8]\\d) %\\)"));
        assertThat(browser.findElement(By.cssSelector("#dialog [data-cancel]")).isDisplayed()).isTrue();
        Browser.screenshot(browser, "archive-import-uploading.png");
        await("word that the VM was imported", () -> text("#dialog [data-status]")
                .equals("Imported " + COPY + " from archive-pages-web.hvm.tar; it is Off."));
        browser.executeCdpCommand("Network.emulateNetworkConditions", Map.of("offline", false, "latency", 0,
                "downloadThroughput", -1, "uploadThroughput", -1));
        assertThat(text("#dialog [data-progress-text]")).endsWith("(100 %)");
        assertThat(text("#dialog [data-not-carried]")).as("the copy beside the original cannot keep its MAC")
                .contains("adapter " + MAC + " has a new MAC: VM '" + WEB + "' has that one");
        assertThat(browser.findElement(By.cssSelector("#dialog .form-error")).isDisplayed()).isFalse();
        Browser.screenshot(browser, "archive-import-done.png");
        assertAccessible("the import dialog with its result");
        await("the imported VM in the list", () -> row(COPY) != null);
        assertThat(Browser.fresh(() -> row(COPY).getText())).contains("Off");
        browser.findElement(By.cssSelector("#dialog [data-close]")).click();

        String copy = Browser.fresh(() -> row(COPY).getAttribute("data-vm-id"));
        assertThat(as("admin").when().get("/api/v1/vms/" + copy).then().statusCode(200).extract().<Integer>path("memoryMib"))
                .isEqualTo(160);
        // A refused download is shown as a page, not as JSON.
        browser.get(base + "/ui/vms/no-such-vm/export");
        assertThat(text("main")).contains("Not found");
        assertThat(as("auditor").queryParam("action", "vm.import").queryParam("target", "vm:" + copy).when().get("/api/v1/audit")
                .then().statusCode(200).extract().<List<String>>path("items.outcome")).contains("SUCCEEDED");
    }

    @Test
    @Order(2)
    void aSelfServiceUserSeesExportOnlyWhenTheirPolicyNamesIt() {
        String base = "http://127.0.0.1:" + url.getPort();
        TestPolicies.ensureStubTemplate(engine);
        bobsPolicy("start", "console");
        String bobs = "archpages-bob-box";
        vms.create(new Caller("bob", Set.of(), Set.of(), "127.0.0.1"), new VmRequests.NewVm(new VmDefinition(bobs, BOBS,
                1, 64, DeviceProfile.ENLIGHTENED, List.of(), List.of(),
                new BootSource.Kernel(engine.storage().path().resolve("stub-kernel"), null, ""), Display.NONE),
                Map.of(), TestPolicies.STUB));

        if (browser == null) {
            browser = Browser.chromium(1280, 900);
        }
        Browser.signOut(browser);
        browser.get(base + "/portal");
        Browser.signIn(browser, "bob", base + "/portal");
        await("bob's VM", () -> card(BOBS) != null);
        assertThat(Browser.fresh(() -> buttons(card(BOBS)))).as("his policy names start and the console, not export")
                .containsExactly("Start");
        assertThat(buttonsIn(".pane-head")).containsExactly("Import VM…", "New virtual machine…");

        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.<PolicyEntity>findById(BOB_POLICY).actions =
                new String[] {"start", "console", "export"});
        browser.navigate().refresh();
        await("bob's VM", () -> card(BOBS) != null);
        assertThat(Browser.fresh(() -> buttons(card(BOBS)))).as("export, but never store: templates are not his")
                .containsExactly("Start", "Export");
        Browser.screenshot(browser, "archive-portal-export.png");

        // His policy refuses the archive's template once its manifest is read; the dialog says so in words.
        browser.executeCdpCommand("Network.enable", Map.of());
        browser.executeCdpCommand("Network.emulateNetworkConditions", Map.of("offline", false, "latency", 0,
                "downloadThroughput", -1, "uploadThroughput", 3 * MIB));
        button("Import VM…").click();
        await("the import dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        dialogField("file").sendKeys(archive.toAbsolutePath().toString());
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
        await("the refusal in the dialog", () -> text("#dialog .form-error")
                .equals("template 'tiny-linux' is not allowed for bob; allowed: stub (policy '" + BOB_POLICY + "')"));
        Browser.screenshot(browser, "archive-import-refused.png");
        assertThat(Browser.fresh(() -> browser.findElements(By.cssSelector(".vm-card h2")).stream().map(WebElement::getText)
                .toList())).as("nothing was imported").doesNotContain(WEB);
    }

    // ---------------------------------------------------------------- helpers

    /** A VM of tiny-linux's that is never booted: a raw disk whose first 12 MiB are random, and an adapter with a fixed MAC. */
    private String anOffVmWithTwelveMibOfDisk() throws IOException {
        Path disk = engine.storage().path().resolve("archive-pages/disk.img");
        Files.createDirectories(disk.getParent());
        byte[] noise = new byte[MIB];
        Random random = new Random(5);
        try (RandomAccessFile raw = new RandomAccessFile(disk.toFile(), "rw")) {
            raw.setLength(32L * MIB);
            for (int i = 0; i < 12; i++) {
                random.nextBytes(noise);
                raw.write(noise);
            }
        }
        return as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"%s","memoryMib":160,"vcpus":1,"display":"none",
                 "disks":[{"path":"archive-pages/disk.img","format":"raw"}],"nics":[{"mac":"%s"}]}""".formatted(WEB, MAC))
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
    }

    /** An enforced policy for bob: VMs from the stub template, and these actions on them. */
    private static void bobsPolicy(String... actions) {
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity.deleteById(BOB_POLICY);
            PolicyEntity p = new PolicyEntity();
            p.id = BOB_POLICY;
            p.name = "Archive pages";
            p.description = "";
            p.precedence = 1;
            p.enforced = true;
            p.assignedUsers = new String[] {"bob"};
            p.hostGroups = new String[] {"default"};
            p.templates = new String[] {TestPolicies.STUB};
            p.actions = actions;
            p.maxVms = 50;
            p.createdAt = Instant.now();
            p.updatedAt = p.createdAt;
            p.persist();
        });
    }

    private boolean noPartialDownloads() {
        try (Stream<Path> files = Files.list(downloads)) {
            return files.noneMatch(f -> f.getFileName().toString().endsWith(".crdownload"));
        } catch (IOException e) {
            return false;
        }
    }

    private static List<String> entries(Path archive) throws IOException {
        try (InputStream in = Files.newInputStream(archive); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            List<String> names = new java.util.ArrayList<>();
            for (var entry = tar.getNextEntry(); entry != null; entry = tar.getNextEntry()) {
                names.add(entry.getName());
            }
            return names;
        }
    }

    private String text(String css) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector(css)).getText());
    }

    private WebElement dialogField(String name) {
        return browser.findElement(By.cssSelector("#dialog [name=" + name + "]"));
    }

    private WebElement row(String name) {
        return browser.findElements(By.cssSelector("tr.vm-row")).stream()
                .filter(r -> r.findElement(By.cssSelector("a.vm-link")).getText().equals(name))
                .findFirst().orElse(null);
    }

    private WebElement card(String name) {
        return browser.findElements(By.cssSelector(".vm-card")).stream()
                .filter(c -> c.findElement(By.cssSelector("h2")).getText().equals(name))
                .findFirst().orElse(null);
    }

    private static List<String> buttons(WebElement area) {
        return area.findElements(By.cssSelector("button, a.button")).stream().map(WebElement::getText).toList();
    }

    private List<String> buttonsIn(String css) {
        return Browser.fresh(() -> buttons(browser.findElement(By.cssSelector(css))));
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
}
