package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static io.hypervise.server.GuestSerial.serial;
import static io.hypervise.server.GuestSerial.awaitSerial;
import static io.hypervise.server.GuestSerial.awaitSerialAfter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.nullValue;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.HttpBrowser;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A VM's CD-ROM drive, seen from inside the guest (tiny-linux prints each drive's readable size when it
 * changes; an empty drive reads 0): an ISO inserted while the VM is Off gives it a drive it boots with, one
 * ejected or inserted while it runs disappears or appears at once, and a restart keeps what is in the drive.
 * An unknown item, a disk image, an item the caller may not see or their policies do not name are refused
 * with the field or the reason, and the VM runs on with its medium. The VM's page shows the disc and inserts and
 * ejects it as the API does.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CdRomApiTest {

    private static final String POLICY = "cdrom-test";

    @TestHTTPResource("/")
    URL url;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    private final List<String> made = new ArrayList<>();
    private Path folder;
    private long smallBytes;
    private long largeBytes;
    private String small;
    private String large;
    private String hidden;
    private String disk;

    /**
     * Two ISOs everyone may see (of different sizes, to tell them apart inside), one only admins see, a disk image;
     * once, from the first test (the application is not up yet in a {@code @BeforeAll}).
     */
    private void importTheMedia() throws Exception {
        if (small != null) {
            return;
        }
        folder = engine.storage().path().resolve("../import").normalize();
        Path smallIso = iso("small", 1);
        Path largeIso = iso("large", 3);
        smallBytes = Files.size(smallIso);
        largeBytes = Files.size(largeIso);
        assertThat(largeBytes).isGreaterThan(smallBytes);
        small = importItem(smallIso, "Small CD", "iso", "everyone");
        large = importItem(largeIso, "Large CD", "iso", "everyone");
        hidden = importItem(iso("hidden", 1), "Admins' CD", "iso", "admins");
        Path raw = Files.write(folder.resolve("disk.img"), new byte[1 << 20]);
        disk = importItem(raw, "A disk", "disk", "everyone");
    }

    @AfterAll
    void removeTheVmsAndThePolicy() {
        for (String vm : made) {
            if (engine.vms().find(vm).isPresent()) {
                if (engine.vms().status(vm).state() != VmState.OFF) {
                    engine.vms().turnOff(vm);
                }
                vms.delete(Caller.host(), vm);
            }
        }
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById(POLICY));
    }

    @Test
    @Order(10)
    void mediaComeAndGoInsideTheRunningGuestStayAfterARestartAndBadMediaChangeNothing() throws Exception {
        importTheMedia();
        String vm = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"cd player","display":"none","memoryMib":160,"profile":"legacy"}""")
                .when().post("/api/v1/vms").then().statusCode(201).body("cdrom", nullValue()).extract().path("id");
        made.add(vm);

        // Running without a drive: a drive cannot be added to a running machine, nor anything ejected.
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerial(vm, "HYPERVISE-READY");
        as("admin").contentType("application/json").body("{\"library\":\"" + small + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(409).body("detail", containsString("has no CD-ROM drive"));
        as("admin").when().delete("/api/v1/vms/" + vm + "/cdrom").then().statusCode(409)
                .body("detail", containsString("has no CD-ROM drive"));
        assertThat(serial(vm)).doesNotContain("hv-disk sr0");
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);

        // Inserted while Off: the VM gets a drive, and boots with the medium in it.
        as("admin").contentType("application/json").body("{\"library\":\"" + small + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(200).body("state", equalTo("Off")).body("cdrom.library", equalTo(small))
                .body("cdrom.image", endsWith(".iso"));
        as("admin").when().get("/api/v1/library/" + small).then().body("usedBy.vmId", hasItem(vm)).body("usedBy.as", hasItem("cd-rom"));
        int lines = serial(vm).split("\n").length;
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerialAfter(vm, lines, "hv-disk sr0 " + smallBytes);
        awaitSerialAfter(vm, lines, "HYPERVISE-READY");

        // Bad media change nothing: the guest keeps reading the small CD.
        as("admin").contentType("application/json").body("{\"library\":\"lib-nothere00\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(400).body("violations[0].field", equalTo("library"))
                .body("violations[0].message", containsString("no library item"));
        as("admin").contentType("application/json").body("{\"library\":\"" + disk + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(400).body("violations[0].field", equalTo("library"))
                .body("violations[0].message", containsString("not an ISO image"));
        as("admin").contentType("application/json").body("{}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(400).body("violations[0].field", equalTo("library"));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Running")).body("cdrom.library", equalTo(small));

        // Ejected while it runs: the guest finds the drive empty at once.
        int before = serial(vm).split("\n").length;
        as("admin").when().delete("/api/v1/vms/" + vm + "/cdrom").then().statusCode(200).body("state", equalTo("Running"))
                .body("cdrom.image", nullValue()).body("cdrom.library", nullValue());
        awaitSerialAfter(vm, before, "hv-disk sr0 0");
        as("admin").when().get("/api/v1/library/" + small).then().body("usedBy.vmId", not(hasItem(vm)));

        // Another inserted while it runs: the guest reads it.
        as("admin").contentType("application/json").body("{\"library\":\"" + large + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(200).body("state", equalTo("Running")).body("cdrom.library", equalTo(large));
        awaitSerialAfter(vm, before, "hv-disk sr0 " + largeBytes);
        // And replaced by another without an eject between, and back.
        int replaced = serial(vm).split("\n").length;
        as("admin").contentType("application/json").body("{\"library\":\"" + small + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(200).body("cdrom.library", equalTo(small));
        awaitSerialAfter(vm, replaced, "hv-disk sr0 " + smallBytes);
        int back = serial(vm).split("\n").length;
        as("admin").contentType("application/json").body("{\"library\":\"" + large + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(200).body("cdrom.library", equalTo(large));
        awaitSerialAfter(vm, back, "hv-disk sr0 " + largeBytes);

        as("auditor").queryParam("action", "vm.cdrom.insert").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("FAILED"))
                .body("items.parameters.library", hasItem(large));
        as("auditor").queryParam("action", "vm.cdrom.eject").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED"));

        // A restart keeps what is in the drive; the ISO in it may not be deleted meanwhile.
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        as("admin").when().delete("/api/v1/library/" + large).then().statusCode(409);
        int restarted = serial(vm).split("\n").length;
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerialAfter(vm, restarted, "hv-disk sr0 " + largeBytes);

        // What the engine runs and what the inventory says agree.
        assertThat(engine.vms().status(vm).definition().cdrom().medium().toString())
                .isEqualTo(as("admin").when().get("/api/v1/vms/" + vm).then().extract().<String>path("cdrom.image"));
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
    }

    @Test
    @Order(20)
    void aSelfServiceUserInsertsOnlyItemsTheyMaySeeAndTheirPoliciesName() throws Exception {
        importTheMedia();
        TestPolicies.ensureStubTemplate(engine);
        TestPolicies.allowEverything(POLICY, "alice");
        String vm = as("alice").contentType("application/json").body("{\"template\":\"stub\",\"name\":\"alice's\"}")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(vm);

        as("alice").contentType("application/json").body("{\"library\":\"" + hidden + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(400).body("violations[0].field", equalTo("library"))
                .body("violations[0].message", containsString("no library item"));
        as("alice").contentType("application/json").body("{\"library\":\"" + small + "\"}").when().put("/api/v1/vms/" + vm + "/cdrom")
                .then().statusCode(403).body("detail", containsString("library item '" + small + "' is not allowed for alice"));
        as("alice").when().get("/api/v1/vms/" + vm).then().statusCode(200).body("cdrom", nullValue());
        as("auditor").queryParam("action", "vm.cdrom.insert").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("DENIED")).body("items.outcome", hasItem("FAILED"));
        as("alice").when().delete("/api/v1/vms/" + vm).then().statusCode(204);
    }

    /** The VM's page, as its scripts speak to the server: the drive's card, the Insert… dialog, inserting and ejecting. */
    @Test
    @Order(25)
    void theVmsPageShowsTheDiscAndInsertsAndEjectsIt() throws Exception {
        importTheMedia();
        String vm = made.getFirst();
        String base = "http://127.0.0.1:" + url.getPort();
        HttpBrowser admin = new HttpBrowser();
        assertThat(admin.signIn(base, "admin", "admin").statusCode()).isEqualTo(200);
        assertThat(admin.get(URI.create(base + "/ui/vms/" + vm + "/storage")).body()).contains("CD-ROM")
                .contains("In the drive: <a href=\"/admin/library?item=" + large + "\">Large CD</a>").contains(">Eject</button>")
                .contains(">Insert…</button>");
        assertThat(admin.get(URI.create(base + "/ui/vms/" + vm + "/cdrom/insert")).body())
                .contains("<option value=\"" + small + "\">Small CD").contains("<option value=\"" + large + "\" selected>")
                .doesNotContain(disk);

        HttpResponse<String> inserted = postHtmx(admin, base + "/ui/vms/" + vm + "/cdrom", "library=" + small);
        assertThat(inserted.statusCode()).as(inserted.body()).isLessThan(300);
        as("admin").when().get("/api/v1/vms/" + vm).then().body("cdrom.library", equalTo(small));
        HttpResponse<String> refused = postHtmx(admin, base + "/ui/vms/" + vm + "/cdrom", "library=" + disk);
        assertThat(refused.statusCode()).isEqualTo(400);
        assertThat(refused.body()).contains("not an ISO image");

        HttpResponse<String> ejected = postHtmx(admin, base + "/ui/vms/" + vm + "/cdrom/eject", "");
        assertThat(ejected.statusCode()).as(ejected.body()).isLessThan(300);
        as("admin").when().get("/api/v1/vms/" + vm).then().body("cdrom.image", nullValue());
        assertThat(admin.get(URI.create(base + "/ui/vms/" + vm + "/storage")).body()).contains("The drive is empty.")
                .doesNotContain(">Eject</button>");
    }

    private static HttpResponse<String> postHtmx(HttpBrowser browser, String uri, String form) {
        return browser.sendWith("POST", URI.create(uri), HttpRequest.BodyPublishers.ofString(form),
                Map.of("HX-Request", "true", "Content-Type", "application/x-www-form-urlencoded"));
    }

    @Test
    @Order(30)
    void oncePlayedAndGoneTheMediaLeaveTheLibrary() throws Exception {
        importTheMedia();
        for (String vm : made) {
            if (engine.vms().find(vm).isPresent()) {
                as("admin").when().delete("/api/v1/vms/" + vm).then().statusCode(204);
            }
        }
        for (String item : List.of(small, large, hidden, disk)) {
            as("admin").when().delete("/api/v1/library/" + item).then().statusCode(204);
        }
    }

    /** An ISO 9660 image of one file of {@code mib} MiB of random bytes, made by xorriso. */
    private Path iso(String name, int mib) throws IOException, InterruptedException {
        Path content = Files.createDirectories(folder.resolve(name + "-content"));
        byte[] bytes = new byte[mib << 20];
        new Random(mib).nextBytes(bytes);
        Files.write(content.resolve("data.bin"), bytes);
        Path iso = folder.resolve(name + ".iso");
        Process p = new ProcessBuilder("xorriso", "-as", "mkisofs", "-quiet", "-V", name.toUpperCase(), "-o", iso.toString(),
                content.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("xorriso: " + out).isZero();
        return iso;
    }

    /** Imports a file of the host's import folder into the library; the item's id. */
    private static String importItem(Path file, String name, String kind, String visibility) {
        String job = as("admin").contentType("application/json").body("{\"path\":\"" + file + "\",\"name\":\"" + name
                + "\",\"kind\":\"" + kind + "\",\"visibility\":\"" + visibility + "\"}")
                .when().post("/api/v1/library/imports").then().statusCode(202).extract().path("id");
        VmApiTest.awaitJob("admin", job);
        return as("admin").when().get("/api/v1/jobs/" + job).then().extract().<String>path("target").substring("library:".length());
    }
}
