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
import java.net.URL;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * A VM's checkpoints and disks on its page, in a real browser (headless Chromium) against the real stack, with a VM
 * that is never booted (an Off VM's checkpoint is a snapshot in its qcow2 disk): an administrator takes checkpoints
 * through the dialog and sees the tree (the current one marked, a branch indented under the checkpoint it came from),
 * renames one, applies one, deletes them; adds a blank disk (its refusals shown in the dialog first: a size beyond
 * the limit, and a checkpoint taken meanwhile), grows it and removes it; adds a network adapter (a VLAN without a
 * switch refused first) and removes one; changes its vCPUs and memory (refused while it has checkpoints). A
 * self-service user sees Checkpoint… only
 * once their policy names the action. Screenshots go to target/screenshots.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CheckpointsAndDisksPagesTest {

    private static final String WEB = "storage pages web";
    private static final String BOBS = "storage pages bob";
    private static final String BOB_POLICY = "storpages-bob";

    @TestHTTPResource("/")
    URL url;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    private ChromeDriver browser;

    @AfterAll
    void removeWhatWasMade() {
        if (browser != null) {
            browser.quit();
        }
        for (String name : List.of(WEB, BOBS)) {
            QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name", name))
                    .forEach(vm -> vms.delete(Caller.host(), vm.id));
        }
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById(BOB_POLICY));
    }

    @Test
    @Order(1)
    void anAdministratorKeepsCheckpointsAndChangesDisksOnTheVmsPage() {
        String base = "http://127.0.0.1:" + url.getPort();
        String web = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"%s","display":"none","memoryMib":128,
                 "disks":[{"sizeMib":16,"format":"qcow2"}]}""".formatted(WEB))
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");

        browser = Browser.chromium(1280, 1500);
        String page = base + "/admin/vms/" + web;
        browser.get(page);
        Browser.signIn(browser, "admin", page);
        await("the VM's checkpoints", () -> text("#vm-storage").contains("No checkpoints."));
        assertThat(diskRows()).containsExactly("Disk 1 qcow2 16.0 MiB created for this VM Grow… Remove");
        assertThat(buttonsIn("#vm-storage")).contains("Checkpoint…", "Add disk…");

        // A checkpoint of the Off VM: a job; the tree shows it, marked as where the VM is.
        button("Checkpoint…").click();
        await("the checkpoint dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(dialogField("name").getAttribute("value")).as("a name made from the time")
                .matches("Checkpoint \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d");
        assertThat(text("#dialog")).contains("The VM is Off: the checkpoint holds its disks as they are now");
        assertAccessible("the checkpoint dialog");
        dialogField("name").clear();
        dialogField("name").sendKeys("before the disk");
        submitDialog();
        await("word that it is being taken", () -> text("#toast").equals("'" + WEB + "': taking checkpoint 'before the disk' (see Jobs)"));
        await("the checkpoint in the tree, current", () -> checkpoints().equals(List.of("0 before the disk you are here")));
        await("the job done", () -> jobs().contains("checkpoint succeeded"));
        assertThat(text("#vm-storage .checkpoint")).contains("by admin · disks only");
        assertThat(buttonsIn("section[aria-labelledby=disks-title]")).as("no way to add a disk: the checkpoint knows only this one")
                .doesNotContain("Add disk…");
        assertThat(text("section[aria-labelledby=disks-title]")).contains("While the VM has checkpoints it keeps the disks it has");
        assertThat(diskRows()).as("grown, yes; removed, no").containsExactly("Disk 1 qcow2 16.0 MiB created for this VM Grow…");

        // Renamed through its dialog.
        checkpointButton("before the disk", "Rename…").click();
        await("the rename dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(dialogField("name").getAttribute("value")).isEqualTo("before the disk");
        dialogField("name").clear();
        dialogField("name").sendKeys("clean install");
        submitDialog();
        await("word of the new name", () -> text("#toast").equals("Renamed checkpoint 'before the disk' to 'clean install'"));
        await("the new name in the tree", () -> checkpoints().equals(List.of("0 clean install you are here")));

        // A second one hangs under it; applying the first and taking a third makes a branch.
        takeCheckpoint("second");
        await("the second under the first", () -> checkpoints().equals(List.of("0 clean install", "1 second you are here")));
        checkpointButton("clean install", "Apply").click();
        String question = browser.switchTo().alert().getText();
        assertThat(question).startsWith("Apply checkpoint 'clean install' to VM '" + WEB + "'? Its disks go back to ")
                .endsWith(". What was written to them since is lost, unless a checkpoint holds it.");
        browser.switchTo().alert().accept();
        await("word that it is being applied", () -> text("#toast").equals("'" + WEB + "': applying checkpoint 'clean install' (see Jobs)"));
        await("the VM back at the first", () -> checkpoints().equals(List.of("0 clean install you are here", "1 second")));
        takeCheckpoint("branch");
        await("a branch beside the second, newest at the bottom",
                () -> checkpoints().equals(List.of("0 clean install", "1 second", "1 branch you are here")));
        Browser.screenshot(browser, "storage-checkpoint-tree.png");
        assertAccessible("the VM's page with its checkpoints");
        browser.manage().window().setSize(new Dimension(420, 1500));
        browser.executeScript("document.getElementById('vm-storage').scrollIntoView()");
        Browser.screenshot(browser, "storage-checkpoint-tree-narrow.png");
        browser.manage().window().setSize(new Dimension(1280, 1500));

        // The admin console's pane says where the VM is and offers a checkpoint.
        browser.get(base + "/admin?name=storage+pages&vm=" + web);
        await("the pane's checkpoints", () -> text("#actions").contains("3 checkpoints; at branch, taken"));
        assertThat(buttonsIn("section[aria-labelledby=pane-checkpoints-title]")).containsExactly("Checkpoint…");
        assertThat(text("#actions")).contains("Checkpoints, disks, utilization and details…");
        Browser.screenshot(browser, "storage-pane.png");
        browser.get(page);
        await("the tree", () -> checkpoints().size() == 3);

        // Deleted, each with a question: then disks can come and go again.
        for (String name : List.of("second", "branch", "clean install")) {
            checkpointButton(name, "Delete").click();
            assertThat(browser.switchTo().alert().getText()).startsWith("Delete checkpoint '" + name + "' of VM '" + WEB + "'?");
            browser.switchTo().alert().accept();
            await(name + " gone", () -> checkpoints().stream().noneMatch(c -> c.contains(" " + name)));
        }
        await("no checkpoints", () -> text("#vm-storage").contains("No checkpoints."));

        // Add disk: a size beyond the limit and a checkpoint taken meanwhile are refused in the dialog, in words.
        await("Add disk… again", () -> buttonsIn("#vm-storage").contains("Add disk…"));
        button("Add disk…").click();
        await("the disk dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(text("#dialog")).contains("The VM is Off: it finds the disk when it next starts.");
        assertAccessible("the disk dialog");
        dialogField("sizeMib").clear();
        dialogField("sizeMib").sendKeys("70000000");
        submitDialog();
        await("the size refused", () -> text("#dialog .form-error").equals("sizeMib: must be from 1 to 67108864 (64 TiB); got 70000000"));
        String meanwhile = as("admin").contentType("application/json").body("{\"name\":\"meanwhile\"}")
                .when().post("/api/v1/vms/" + web + "/checkpoints").then().statusCode(202).extract().path("id");
        VmApiTest.awaitJob("admin", meanwhile);
        dialogField("sizeMib").clear();
        dialogField("sizeMib").sendKeys("32");
        submitDialog();
        await("the checkpoint's refusal", () -> text("#dialog .form-error").startsWith("VM '" + WEB + "' has checkpoints"));
        Browser.screenshot(browser, "storage-disk-refused.png");
        String cp = as("admin").when().get("/api/v1/vms/" + web + "/checkpoints").then().statusCode(200).extract().path("[0].id");
        VmApiTest.awaitJob("admin", as("admin").when().delete("/api/v1/vms/" + web + "/checkpoints/" + cp).then().statusCode(202)
                .extract().path("id"));
        submitDialog();
        await("word that the disk was added", () -> text("#toast").equals("Added a disk to '" + WEB + "'"));
        assertThat(browser.findElement(By.id("dialog")).isDisplayed()).isFalse();
        await("the new disk listed", () -> diskRows().size() == 2);
        assertThat(diskRows()).containsExactly("Disk 1 qcow2 16.0 MiB created for this VM Grow… Remove",
                "Disk 2 qcow2 32.0 MiB created for this VM Grow… Remove");

        // Grown through its dialog.
        diskButton(2, "Grow…").click();
        await("the grow dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(text("#dialog")).contains("It is a qcow2 disk of 32 MiB now; disks only grow.");
        assertThat(dialogField("sizeMib").getAttribute("value")).isEqualTo("64");
        assertAccessible("the grow dialog");
        dialogField("sizeMib").clear();
        dialogField("sizeMib").sendKeys("48");
        submitDialog();
        await("word of the new size", () -> text("#toast").equals("Disk 2 of '" + WEB + "' is now 48 MiB"));
        await("the new size listed", () -> diskRows().contains("Disk 2 qcow2 48.0 MiB created for this VM Grow… Remove"));
        Browser.screenshot(browser, "storage-disks.png");
        assertAccessible("the VM's page with two disks");

        // Removed, with a question naming it.
        diskButton(2, "Remove").click();
        assertThat(browser.switchTo().alert().getText()).isEqualTo("Disk 2 (qcow2, 48.0 MiB): Remove this disk from VM '" + WEB
                + "'? An image made for the VM is deleted with it.");
        browser.switchTo().alert().accept();
        await("word that it was removed", () -> text("#toast").equals("Removed disk 2 from '" + WEB + "'"));
        await("one disk again", () -> diskRows().equals(List.of("Disk 1 qcow2 16.0 MiB created for this VM Grow… Remove")));
        assertThat(as("admin").when().get("/api/v1/vms/" + web).then().statusCode(200).extract().<List<Object>>path("disks"))
                .hasSize(1);

        // A network adapter added through its dialog (a VLAN without a switch refused first), removed with a question.
        String first = as("admin").when().get("/api/v1/vms/" + web).then().statusCode(200).extract().path("nics[0].mac");
        assertThat(nicRows()).containsExactly("Adapter 1 " + first + " isolated network Remove");
        button("Add adapter…").click();
        await("the adapter dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        assertThat(text("#dialog")).contains("The VM is Off: it finds the adapter when it next starts.");
        assertAccessible("the adapter dialog");
        dialogField("vlan").sendKeys("5");
        submitDialog();
        await("the VLAN refused", () -> text("#dialog .form-error").equals("vlan: needs a switch: VLANs are carried by virtual switches"));
        dialogField("vlan").clear();
        dialogField("mac").sendKeys("52:54:00:0a:0b:0c");
        submitDialog();
        await("word that the adapter was added", () -> text("#toast").equals("Added adapter 2 (52:54:00:0a:0b:0c) to '" + WEB + "'"));
        await("the new adapter listed", () -> nicRows().size() == 2);
        assertThat(nicRows()).containsExactly("Adapter 1 " + first + " isolated network Remove",
                "Adapter 2 52:54:00:0a:0b:0c isolated network Remove");
        assertAccessible("the VM's page with two adapters");
        nicButton(1, "Remove").click();
        assertThat(browser.switchTo().alert().getText()).isEqualTo("Adapter 1 (" + first + "): Remove this network adapter from VM '"
                + WEB + "'? The guest loses that link at once.");
        browser.switchTo().alert().accept();
        await("word that it was removed", () -> text("#toast").equals("Removed adapter 1 from '" + WEB + "'"));
        await("one adapter again", () -> nicRows().equals(List.of("Adapter 1 52:54:00:0a:0b:0c isolated network Remove")));
        assertThat(as("admin").when().get("/api/v1/vms/" + web).then().statusCode(200).extract().<List<String>>path("nics.mac"))
                .containsExactly("52:54:00:0a:0b:0c");

        // vCPUs and memory through the Details' Change…, up to the maximums the VM was given; refused in words while it
        // has checkpoints.
        as("admin").contentType("application/json").body("{\"maxVcpus\":4,\"maxMemoryMib\":512}").when()
                .patch("/api/v1/vms/" + web).then().statusCode(200);
        browser.navigate().refresh();
        await("the room to grow shown", () -> text(".vm-details-card").contains("1 vCPU (up to 4 while it runs)"));
        sizeButton().click();
        await("the size dialog", () -> browser.findElement(By.id("dialog")).isDisplayed()
                && text("#dialog").contains("The VM is Off: it starts next time with what you set here."));
        assertThat(dialogField("vcpus").getAttribute("max")).isEqualTo("4");
        assertThat(dialogField("memoryMib").getAttribute("max")).isEqualTo("512");
        assertAccessible("the size dialog");
        dialogField("vcpus").clear();
        dialogField("vcpus").sendKeys("3");
        dialogField("memoryMib").clear();
        dialogField("memoryMib").sendKeys("384");
        submitDialog();
        await("word that the size changed", () -> text("#toast").equals("'" + WEB + "' has 3 vCPUs and 384 MiB of memory"));
        await("the new size shown", () -> text(".vm-details-card").contains("3 vCPUs (up to 4 while it runs)"));
        as("admin").when().get("/api/v1/vms/" + web).then().statusCode(200)
                .body("vcpus", org.hamcrest.Matchers.equalTo(3)).body("memoryMib", org.hamcrest.Matchers.equalTo(384));
        takeCheckpoint("sized");
        await("the checkpoint taken", () -> checkpoints().stream().anyMatch(c -> c.contains("sized")));
        sizeButton().click();
        await("the size dialog", () -> browser.findElement(By.id("dialog")).isDisplayed() && text("#dialog").contains("vCPUs"));
        dialogField("vcpus").clear();
        dialogField("vcpus").sendKeys("2");
        submitDialog();
        await("the checkpoint's refusal", () -> text("#dialog .form-error").startsWith("VM '" + WEB + "' has checkpoints, which hold"
                + " the vCPUs and memory it had"));
        browser.findElement(By.cssSelector("#dialog [data-close]")).click();
        assertThat(as("admin").when().get("/api/v1/vms/" + web).then().statusCode(200).extract().<Integer>path("vcpus")).isEqualTo(3);
        assertThat(as("auditor").queryParam("target", "vm:" + web).queryParam("size", 100).when().get("/api/v1/audit").then()
                .statusCode(200).extract().<List<String>>path("items.action"))
                .contains("vm.checkpoint", "vm.checkpoint.rename", "vm.checkpoint.apply", "vm.checkpoint.delete", "vm.disk.add",
                        "vm.disk.resize", "vm.disk.remove", "vm.nic.add", "vm.nic.remove", "vm.vcpus", "vm.memory");
    }

    @Test
    @Order(2)
    void aSelfServiceUserSeesCheckpointOnlyWhenTheirPolicyNamesIt() {
        String base = "http://127.0.0.1:" + url.getPort();
        TestPolicies.ensureStubTemplate(engine);
        bobsPolicy("start", "console");
        String bobs = "storpages-bob-box";
        vms.create(new Caller("bob", Set.of(), Set.of(), "127.0.0.1"), new VmRequests.NewVm(new VmDefinition(bobs, BOBS,
                1, 64, DeviceProfile.ENLIGHTENED, List.of(), List.of(),
                new BootSource.Kernel(engine.storage().path().resolve("stub-kernel"), null, ""), Display.NONE),
                Map.of(), TestPolicies.STUB));

        if (browser == null) {
            browser = Browser.chromium(1280, 1500);
        }
        Browser.signOut(browser);
        String page = base + "/portal/vms/" + bobs;
        browser.get(page);
        Browser.signIn(browser, "bob", page);
        await("his VM's checkpoints", () -> text("#vm-storage").contains("No checkpoints."));
        assertThat(buttonsIn("#vm-storage")).as("his policy names neither checkpoint nor reconfigure").isEmpty();
        assertThat(buttonsIn(".vm-head")).containsExactly("Start");

        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.<PolicyEntity>findById(BOB_POLICY).actions =
                new String[] {"start", "console", "checkpoint"});
        browser.navigate().refresh();
        await("his VM's checkpoints", () -> text("#vm-storage").contains("No checkpoints."));
        assertThat(buttonsIn("#vm-storage")).as("checkpoint now; disks are still not his to change").containsExactly("Checkpoint…");
        assertThat(buttonsIn(".vm-head")).as("the buttons row stays as it was").containsExactly("Start");
        Browser.screenshot(browser, "storage-portal.png");
        assertAccessible("the portal's VM page");
    }

    // ---------------------------------------------------------------- helpers

    private void takeCheckpoint(String name) {
        button("Checkpoint…").click();
        await("the checkpoint dialog", () -> browser.findElement(By.id("dialog")).isDisplayed());
        dialogField("name").clear();
        dialogField("name").sendKeys(name);
        submitDialog();
        await("word that it is being taken", () -> text("#toast").endsWith("taking checkpoint '" + name + "' (see Jobs)"));
    }

    /** The tree as "depth name [you are here]", top to bottom, once nothing in it is under way. */
    private List<String> checkpoints() {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("#vm-storage li.checkpoint")).stream()
                .map(li -> li.getAttribute("class").replaceAll(".*depth-(\\d+).*", "$1") + " "
                        + li.findElement(By.cssSelector(".cp-line")).getText().replace("↳", "").replaceAll("\\s+", " ").trim())
                .toList());
    }

    private WebElement checkpointButton(String name, String label) {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("#vm-storage li.checkpoint")).stream()
                .filter(li -> li.findElement(By.cssSelector(".cp-name")).getText().equals(name))
                .flatMap(li -> li.findElements(By.cssSelector("button")).stream())
                .filter(b -> b.getText().equals(label)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + label + " on checkpoint " + name)));
    }

    /** The VM's jobs on its page as "kind state", newest first. */
    private List<String> jobs() {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("#vm-storage .vm-jobs li")).stream()
                .map(li -> li.findElement(By.cssSelector(".job-kind")).getText() + " "
                        + li.findElement(By.cssSelector(".job-state")).getText()).toList());
    }

    /** Each disk's row as its text reads, cells joined by spaces. */
    private List<String> diskRows() {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("#vm-storage tr.disk-row")).stream()
                .map(r -> r.getText().replaceAll("\\s+", " ").trim()).toList());
    }

    private WebElement diskButton(int number, String label) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector("#vm-storage tr.disk-row[data-position='" + (number - 1) + "']"))
                .findElements(By.cssSelector("button")).stream().filter(b -> b.getText().equals(label)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + label + " on disk " + number)));
    }

    /** The Details' Change… (vCPUs and memory). */
    private WebElement sizeButton() {
        return Browser.fresh(() -> browser.findElement(By.cssSelector(".vm-details-card button")));
    }

    private List<String> nicRows() {
        return Browser.fresh(() -> browser.findElements(By.cssSelector("#vm-storage tr.nic-row")).stream()
                .map(r -> r.getText().replaceAll("\\s+", " ").trim()).toList());
    }

    private WebElement nicButton(int number, String label) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector("#vm-storage tr.nic-row[data-position='" + (number - 1) + "']"))
                .findElements(By.cssSelector("button")).stream().filter(b -> b.getText().equals(label)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + label + " on adapter " + number)));
    }

    /** An enforced policy for bob: VMs from the stub template, and these actions on them. */
    private static void bobsPolicy(String... actions) {
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity.deleteById(BOB_POLICY);
            PolicyEntity p = new PolicyEntity();
            p.id = BOB_POLICY;
            p.name = "Storage pages";
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

    private void submitDialog() {
        browser.findElement(By.cssSelector("#dialog button[type=submit]")).click();
    }

    private String text(String css) {
        return Browser.fresh(() -> browser.findElement(By.cssSelector(css)).getText());
    }

    private WebElement dialogField(String name) {
        return browser.findElement(By.cssSelector("#dialog [name=" + name + "]"));
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
