package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.storage.vhd.ParentLocator;
import io.hypervise.engine.storage.vhd.VhdBuilder;
import io.hypervise.engine.template.BootCheckIso;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.server.access.Caller;
import io.hypervise.server.library.Uploads;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.template.Templates;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
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
 * The library through the real stack: a 1 GiB disk image uploaded over tus, its connection cut in the
 * middle and the upload resumed from where the server says it stands, its checksum the same; images that
 * name host files refused, as uploads and as host imports; five linked clones of the image booted at once,
 * each guest reading the library's bytes through its clone and writing over them, while the library
 * image stays exactly as it was; and an item in use that cannot be deleted.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LibraryApiTest {

    private static final long GIB = 1L << 30;
    private static final int MIB = 1 << 20;
    private static final int CLONES = 5;

    @Inject
    Engine engine;

    @Inject
    Templates templates;

    @Inject
    VmService vms;

    @Inject
    Uploads uploads;

    @Inject
    EntityManager em;

    private final byte[] block = new byte[MIB];
    private String sha256;
    private String item;
    private final List<String> clones = new ArrayList<>();

    @AfterAll
    void removeTheClones() {
        for (String vm : clones) {
            if (engine.vms().find(vm).isPresent()) {
                if (engine.vms().status(vm).state() != VmState.OFF) {
                    engine.vms().turnOff(vm);
                }
                vms.delete(Caller.host(), vm);
            }
        }
    }

    @Test
    @Order(10)
    void anUploadCutInTheMiddleResumesFromWhereItStoodAndImportsWithItsChecksum() throws Exception {
        new Random(15).nextBytes(block);
        String location = as("admin").header("Tus-Resumable", "1.0.0").header("Upload-Length", GIB)
                .header("Upload-Metadata", metadata("name", "Golden disk", "kind", "disk", "visibility", "everyone"))
                .when().post("/api/v1/library/uploads").then().statusCode(201)
                .header("Tus-Resumable", "1.0.0")
                .header("Location", containsString("/api/v1/library/uploads/up-"))
                .body("offset", equalTo(0)).body("length", equalTo((int) GIB))
                .extract().header("Location");
        String upload = location.substring(location.lastIndexOf('/') + 1);
        item = as("admin").when().get("/api/v1/library/uploads/" + upload).then().statusCode(200).extract().path("itemId");

        // Half of it, then the connection goes away in the middle of the request.
        cutOff(upload, GIB / 2);
        // What reached the server is kept, but for what it had received and not yet written when the
        // connection closed: the client resumes from where the server says the upload stands.
        long offset = settledOffset(upload);
        assertThat(offset).as("what the server kept of the cut request").isBetween(GIB / 2 - 16L * MIB, GIB / 2);
        as("admin").header("Tus-Resumable", "1.0.0").header("Upload-Offset", 0).contentType("application/offset+octet-stream")
                .body(new byte[16]).when().patch("/api/v1/library/uploads/" + upload).then().statusCode(409)
                .body("detail", containsString("stands at byte " + offset)).body("offset", equalTo((int) offset));

        HttpResponse<Void> rest = patch(upload, offset, GIB - offset);
        assertThat(rest.statusCode()).isEqualTo(204);
        assertThat(rest.headers().firstValue("Upload-Offset")).hasValue(Long.toString(GIB));
        String job = rest.headers().firstValue("Hypervise-Job").orElseThrow();
        VmApiTest.awaitJob("admin", job.substring(job.lastIndexOf('/') + 1));

        sha256 = expectedSha256();
        as("alice").when().get("/api/v1/library/" + item).then().statusCode(200)
                .body("name", equalTo("Golden disk"))
                .body("kind", equalTo("disk"))
                .body("format", equalTo("raw"))
                .body("sourceFormat", equalTo("raw"))
                .body("virtualBytes", equalTo((int) GIB))
                .body("sha256", equalTo(sha256))
                .body("owner", equalTo("admin"))
                .body("usedBy.size()", equalTo(0));
        as("bob").when().get("/api/v1/library?kind=disk").then().statusCode(200).body("items.id", hasItem(item));
        as("auditor").queryParam("action", "library.upload").when().get("/api/v1/audit").then().statusCode(200)
                .body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("REQUESTED"));
        assertThat(Files.list(engine.storage().library().resolve("uploads")).toList()).as("part files left").isEmpty();
    }

    @Test
    @Order(20)
    void imagesThatNameHostFilesAreRefusedAsUploadsAndAsHostImports() throws Exception {
        Path evil = engine.storage().path().resolve("../import/evil.qcow2").normalize();
        run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/passwd", "-F", "raw", evil.toString(), "1M");
        byte[] bytes = Files.readAllBytes(evil);

        String detected = uploadWhole("evil", "disk", null, bytes);
        assertThat(jobError(detected)).contains("names a backing file '/etc/passwd'");
        String declaredRaw = uploadWhole("evil-raw", "disk", "raw", bytes);
        assertThat(jobError(declaredRaw)).contains("is declared raw but starts with a qcow2 header");

        String imported = as("admin").contentType("application/json")
                .body("{\"path\":\"" + evil + "\",\"name\":\"evil\",\"kind\":\"disk\"}")
                .when().post("/api/v1/library/imports").then().statusCode(202).extract().path("id");
        assertThat(jobError(imported)).contains("names a backing file '/etc/passwd'");
        as("admin").contentType("application/json").body("{\"path\":\"/etc/passwd\",\"name\":\"p\",\"kind\":\"disk\"}")
                .when().post("/api/v1/library/imports").then().statusCode(400)
                .body("violations[0].field", equalTo("path"))
                .body("violations[0].message", startsWith("must be a regular file inside an import folder"));
        as("operator").contentType("application/json").body("{\"path\":\"" + evil + "\",\"name\":\"p\",\"kind\":\"disk\"}")
                .when().post("/api/v1/library/imports").then().statusCode(403);
        as("admin").when().get("/api/v1/library").then().statusCode(200)
                .body("items.name", not(hasItem("evil"))).body("items.name", not(hasItem("evil-raw")));
    }

    @Test
    @Order(30)
    void aSelfServiceUserUploadsWithinTheirLibraryQuotaOnly() {
        as("bob").header("Upload-Length", MIB).header("Upload-Metadata", metadata("name", "b", "kind", "disk"))
                .when().post("/api/v1/library/uploads").then().statusCode(403)
                .body("reasons[0]", startsWith("no self-service policy applies to bob"));
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity p = new PolicyEntity();
            p.id = "alice-library";
            p.name = "Alice's library";
            p.description = "";
            p.precedence = 400;
            p.assignedUsers = new String[] {"alice"};
            p.maxLibraryMib = 1L;
            p.createdAt = Instant.now();
            p.updatedAt = p.createdAt;
            p.persist();
        });
        as("alice").header("Upload-Length", 2 * MIB).header("Upload-Metadata", metadata("name", "big", "kind", "disk"))
                .when().post("/api/v1/library/uploads").then().statusCode(413)
                .body("detail", startsWith("library quota: 0 MiB of 1 MiB in use (policy 'alice-library'); this needs 2 MiB"));
        String location = as("alice").header("Upload-Length", MIB).header("Upload-Metadata", metadata("name", "small", "kind", "disk"))
                .when().post("/api/v1/library/uploads").then().statusCode(201).extract().header("Location");
        as("alice").header("Upload-Length", 1).header("Upload-Metadata", metadata("name", "one more", "kind", "disk"))
                .when().post("/api/v1/library/uploads").then().statusCode(413);
        String upload = location.substring(location.lastIndexOf('/') + 1);
        as("bob").when().get("/api/v1/library/uploads/" + upload).then().statusCode(404);
        as("alice").header("Tus-Resumable", "1.0.0").when().delete("/api/v1/library/uploads/" + upload).then().statusCode(204);
        as("alice").when().get("/api/v1/library/uploads/" + upload).then().statusCode(404);
    }

    @Test
    @Order(35)
    void anUploadNobodyAddsToIsRemovedWhenItExpires() {
        String location = as("admin").header("Upload-Length", MIB).header("Upload-Metadata", metadata("name", "forgotten", "kind", "disk"))
                .when().post("/api/v1/library/uploads").then().statusCode(201).extract().header("Location");
        String upload = location.substring(location.lastIndexOf('/') + 1);
        as("admin").header("Upload-Offset", 0).contentType("application/offset+octet-stream").body(new byte[4096])
                .when().patch("/api/v1/library/uploads/" + upload).then().statusCode(204).header("Upload-Offset", "4096");
        QuarkusTransaction.requiringNew().run(() -> em.createNativeQuery(
                "UPDATE library_uploads SET touched_at = now() - interval '2 days' WHERE id = :id").setParameter("id", upload).executeUpdate());

        assertThat(uploads.sweep()).isEqualTo(1);

        as("admin").when().get("/api/v1/library/uploads/" + upload).then().statusCode(404);
        assertThat(engine.storage().library().resolve("uploads/" + upload + ".part")).doesNotExist();
        as("auditor").queryParam("action", "library.upload").when().get("/api/v1/audit").then().statusCode(200)
                .body("items.reason", hasItem(startsWith("abandoned: nothing was added to it for")));
    }

    @Test
    @Order(40)
    void fiveLinkedClonesBootAndWriteWhileTheLibraryImageStaysAsItWas() throws Exception {
        BootSource.Kernel tiny = (BootSource.Kernel) templates.bootSource(templates.find(Templates.TINY_LINUX).orElseThrow());
        Path root = engine.storage().path();
        for (int i = 0; i < CLONES; i++) {
            String vm = as("admin").contentType("application/json").body("""
                    {"name":"clone %d","display":"none","memoryMib":160,
                     "boot":{"kind":"kernel","kernel":"%s","initramfs":"%s","commandLine":"%s hv.read=1 hv.write=1"},
                     "disks":[{"library":"%s"}]}""".formatted(i, root.relativize(tiny.kernel()), root.relativize(tiny.initramfs()),
                    tiny.commandLine(), item))
                    .when().post("/api/v1/vms").then().statusCode(201)
                    .body("disks[0].format", equalTo("qcow2"))
                    .body("disks[0].sizeBytes", equalTo((int) GIB))
                    .extract().path("id");
            clones.add(vm);
        }
        as("admin").when().get("/api/v1/library/" + item).then().statusCode(200).body("usedBy.size()", equalTo(CLONES))
                .body("usedBy.vmId", hasItem(clones.get(0)));
        as("admin").when().delete("/api/v1/library/" + item).then().statusCode(409)
                .body("detail", containsString("is used by"));

        for (String vm : clones) {
            as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        }
        String firstMib = md5(block0());
        for (String vm : clones) {
            String serial = awaitSerial(vm, "hv-wrote vda " + MIB, Duration.ofSeconds(240));
            assertThat(serial).as("what the guest of " + vm + " read through its clone").contains("hv-read vda " + firstMib);
            assertThat(serial).contains("hv-disk vda " + GIB);
        }
        for (String vm : clones) {
            Path overlay = Path.of(as("admin").when().get("/api/v1/vms/" + vm).then().extract().<String>path("disks[0].path"));
            assertThat(Files.size(overlay)).as("a linked clone holds only what its guest wrote").isLessThan(16L * MIB);
        }
        Path image = engine.storage().library().resolve(
                as("admin").when().get("/api/v1/library/" + item).then().extract().<String>path("id"));
        assertThat(sha256Of(libraryFile())).as("the library image after five guests wrote to their clones").isEqualTo(sha256);
        assertThat(image).doesNotExist(); // items live under items/<id>/, never at the library's top

        for (String vm : clones) {
            as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
            as("admin").when().delete("/api/v1/vms/" + vm).then().statusCode(204);
        }
        as("admin").when().delete("/api/v1/library/" + item).then().statusCode(204);
        as("admin").when().get("/api/v1/library/" + item).then().statusCode(404);
        assertThat(libraryFile().getParent()).doesNotExist();
    }

    @Test
    @Order(50)
    void aVmDeployedFromALibraryIsoBootsItUnderBiosAndUefi() throws Exception {
        byte[] iso = Files.readAllBytes(BootCheckIso.ensure(Path.of(System.getProperty("user.home"), ".cache", "hypervise", "iso")));
        String raw = uploadWhole("not an iso", "iso", null, new byte[64 * 1024]);
        assertThat(jobError(raw)).contains("is not an ISO 9660 image");
        String job = uploadWhole("Boot check", "iso", null, iso);
        VmApiTest.awaitJob("admin", job);
        String isoItem = as("admin").when().get("/api/v1/jobs/" + job).then().extract().<String>path("target").substring("library:".length());
        as("admin").when().get("/api/v1/library/" + isoItem).then().statusCode(200)
                .body("kind", equalTo("iso")).body("sourceFormat", equalTo("iso")).body("format", equalTo("raw"));
        as("admin").contentType("application/json").body("{\"name\":\"x\",\"boot\":{\"kind\":\"iso\",\"library\":\"" + item
                + "\"}}").when().post("/api/v1/vms").then().statusCode(400)
                .body("violations[0].field", equalTo("boot.library"));

        for (Firmware firmware : Firmware.values()) {
            String vm = as("admin").contentType("application/json").body("""
                    {"name":"installer %s","display":"none","firmware":"%s","boot":{"kind":"iso","library":"%s"},
                     "disks":[{"sizeMib":64,"format":"qcow2"}]}""".formatted(firmware, firmware.name().toLowerCase(), isoItem))
                    .when().post("/api/v1/vms").then().statusCode(201)
                    .body("firmware", equalTo(firmware.name().toLowerCase())).extract().path("id");
            clones.add(vm);
            as("admin").when().get("/api/v1/library/" + isoItem).then().body("usedBy.as", hasItem("cd-rom"));
            as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
            awaitSerial(vm, BootCheckIso.marker(firmware), Duration.ofSeconds(120));
            as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        }
    }

    @Test
    @Order(60)
    void aDifferencingVhdChainImportsFromTheHostWithTheRightBytes() throws Exception {
        Path folder = engine.storage().path().resolve("../import").normalize();
        Path parent = VhdBuilder.dynamic(8L * MIB, 2 * MIB).sector(0, filled(0x11)).sector(1, filled(0x11))
                .sector(5000, filled(0x12)).writeTo(folder.resolve("base.vhd"));
        // The child names its parent as Hyper-V does, by a Windows path the host never opens.
        Path child = VhdBuilder.childOf(parent, 2 * MIB).locator(ParentLocator.Platform.W2KU, "C:\\VMs\\base.vhd")
                .sector(1, filled(0x21)).sector(9000, filled(0x22)).writeTo(folder.resolve("child.vhd"));

        String job = as("admin").contentType("application/json")
                .body("{\"path\":\"" + child + "\",\"name\":\"from Hyper-V\",\"kind\":\"disk\",\"visibility\":\"everyone\"}")
                .when().post("/api/v1/library/imports").then().statusCode(202).extract().path("id");
        VmApiTest.awaitJob("admin", job);
        String imported = as("admin").when().get("/api/v1/jobs/" + job).then().extract().<String>path("target").substring("library:".length());
        as("admin").when().get("/api/v1/library/" + imported).then().statusCode(200)
                .body("sourceFormat", equalTo("vhd")).body("format", equalTo("qcow2")).body("virtualBytes", equalTo(8 * MIB));

        Path raw = folder.resolve("check.raw");
        Path stored = engine.storage().library().resolve("items").resolve(imported).resolve(imported + ".qcow2");
        run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", stored.toString(), raw.toString());
        byte[] disk = Files.readAllBytes(raw);
        assertThat(sector(disk, 0)).as("from the parent").isEqualTo(filled(0x11));
        assertThat(sector(disk, 1)).as("the child's, over the parent's").isEqualTo(filled(0x21));
        assertThat(sector(disk, 5000)).as("from the parent").isEqualTo(filled(0x12));
        assertThat(sector(disk, 9000)).as("the child's").isEqualTo(filled(0x22));
        assertThat(sector(disk, 2)).as("neither's").isEqualTo(new byte[512]);

        // Back out as a VHD for Hyper-V, written by our own writer: QEMU reads the same bytes from it.
        Path vhd = folder.resolve("exported.vhd");
        try (InputStream in = as("admin").queryParam("format", "vhd").when().get("/api/v1/library/" + imported + "/content")
                .then().statusCode(200).header("Content-Disposition", containsString(".vhd")).extract().asInputStream()) {
            Files.copy(in, vhd);
        }
        Path back = folder.resolve("back.raw");
        run("qemu-img", "convert", "-f", "vpc", "-O", "raw", vhd.toString(), back.toString());
        assertThat(Files.readAllBytes(back)).as("the exported VHD, read by qemu-img -f vpc").isEqualTo(disk);
        as("admin").queryParam("format", "vmdk").when().get("/api/v1/library/" + imported + "/content").then().statusCode(400)
                .body("violations[0].field", equalTo("format"));
        for (int i = 0; i < 50 && Files.list(engine.storage().library().resolve("exports")).findAny().isPresent(); i++) {
            TimeUnit.MILLISECONDS.sleep(100);
        }
        assertThat(engine.storage().library().resolve("exports")).as("the VHD written for the download, once sent").isEmptyDirectory();

        Files.delete(parent);
        String orphan = as("admin").contentType("application/json")
                .body("{\"path\":\"" + child + "\",\"name\":\"orphan\",\"kind\":\"disk\"}")
                .when().post("/api/v1/library/imports").then().statusCode(202).extract().path("id");
        assertThat(jobError(orphan)).contains("is a differencing VHD whose chain needs the parent").contains("not supplied");
        String uploaded = uploadWhole("child alone", "disk", null, Files.readAllBytes(child));
        assertThat(jobError(uploaded)).contains("not supplied");
    }

    @Test
    @Order(70)
    void aVmStoredAsATemplateIsDeployedAgainWithTheFirstOnesFiles() throws Exception {
        BootSource.Kernel tiny = (BootSource.Kernel) templates.bootSource(templates.find(Templates.TINY_LINUX).orElseThrow());
        Path root = engine.storage().path();
        String word = "w" + Long.toHexString(new Random().nextLong() & 0xffffffffL);
        String first = as("admin").contentType("application/json").body("""
                {"name":"golden master","display":"none","memoryMib":160,
                 "boot":{"kind":"kernel","kernel":"%s","initramfs":"%s","commandLine":"%s hv.stamp=%s"},
                 "disks":[{"sizeMib":64,"format":"qcow2"}]}""".formatted(root.relativize(tiny.kernel()),
                root.relativize(tiny.initramfs()), tiny.commandLine(), word))
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        clones.add(first);
        as("admin").when().post("/api/v1/vms/" + first + "/start").then().statusCode(202);
        awaitSerial(first, "hv-stamped vda " + word, Duration.ofSeconds(120));
        as("admin").contentType("application/json").body("{\"template\":\"master-" + word + "\",\"name\":\"Master\"}")
                .when().post("/api/v1/vms/" + first + "/store").then().statusCode(409)
                .body("detail", containsString("while it is Off"));
        as("admin").when().post("/api/v1/vms/" + first + "/turn-off").then().statusCode(200);

        String job = as("admin").contentType("application/json").body("{\"template\":\"master-" + word + "\",\"name\":\"Master\"}")
                .when().post("/api/v1/vms/" + first + "/store").then().statusCode(202)
                .body("kind", equalTo("vm-store")).extract().path("id");
        // The store is a job on another thread: a start sent while it runs is refused. It may (rarely, on a
        // fast disk) have ended already, and then the start is the VM's own business; which of the two
        // happened is told by the audit log, where the store's end comes before the VM is free again.
        var start = as("operator").when().post("/api/v1/vms/" + first + "/start").then().extract();
        if (start.statusCode() == 409) {
            assertThat(start.<String>path("detail")).contains("is being stored in the library");
        } else {
            assertThat(start.statusCode()).as("a start while the store runs, or after it ended").isEqualTo(202);
            VmApiTest.awaitJob("admin", job);
            List<String> log = as("auditor").queryParam("target", "vm:" + first).queryParam("size", "50").when()
                    .get("/api/v1/audit").then().statusCode(200).extract().<List<Map<String, Object>>>path("items").stream()
                    .map(e -> e.get("action") + " " + e.get("outcome")).toList();
            assertThat(log.indexOf("vm.start REQUESTED")).as("the start, newest first in %s", log).isNotNegative()
                    .isLessThan(log.indexOf("vm.store SUCCEEDED"));
            VmApiTest.awaitJob("operator", start.path("id"));
            as("admin").when().post("/api/v1/vms/" + first + "/turn-off").then().statusCode(200);
        }
        VmApiTest.awaitJob("admin", job);
        as("alice").contentType("application/json").body("{\"template\":\"x\",\"name\":\"X\"}")
                .when().post("/api/v1/vms/" + first + "/store").then().statusCode(403);

        String second = as("admin").contentType("application/json")
                .body("{\"template\":\"master-" + word + "\",\"name\":\"from the master\"}")
                .when().post("/api/v1/vms").then().statusCode(201)
                .body("template", equalTo("master-" + word))
                .body("disks[0].base", startsWith(engine.storage().library().resolve("items").toString()))
                .extract().path("id");
        clones.add(second);
        as("admin").when().post("/api/v1/vms/" + second + "/start").then().statusCode(202);
        String serial = awaitSerial(second, "hv-found vda " + word, Duration.ofSeconds(120));
        assertThat(serial.indexOf("hv-found vda " + word)).as("found before its own guest stamps the disk again")
                .isLessThan(serial.indexOf("hv-stamped") < 0 ? Integer.MAX_VALUE : serial.indexOf("hv-stamped"));
        as("admin").when().post("/api/v1/vms/" + second + "/turn-off").then().statusCode(200);
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] filled(int value) {
        byte[] b = new byte[512];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte[] sector(byte[] disk, int index) {
        return java.util.Arrays.copyOfRange(disk, index * 512, index * 512 + 512);
    }

    private Path libraryFile() {
        return engine.storage().library().resolve("items").resolve(item).resolve(item + ".img");
    }

    /** Block i of the image: the same random MiB with its number in the first eight bytes. */
    private byte[] blockAt(long i) {
        byte[] b = block.clone();
        for (int k = 0; k < 8; k++) {
            b[k] = (byte) (i >>> (56 - 8 * k));
        }
        return b;
    }

    private byte[] block0() {
        return blockAt(0);
    }

    private InputStream imageBytes(long from, long length) {
        return new InputStream() {
            long position = from;
            final long end = from + length;

            @Override
            public int read() {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] buffer, int offset, int len) {
                if (position >= end) {
                    return -1;
                }
                byte[] b = blockAt(position / MIB);
                int in = (int) (position % MIB);
                int n = (int) Math.min(Math.min(len, MIB - in), end - position);
                System.arraycopy(b, in, buffer, offset, n);
                position += n;
                return n;
            }
        };
    }

    private String expectedSha256() throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        for (long i = 0; i < GIB / MIB; i++) {
            digest.update(blockAt(i));
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Sends {@code bytes} of a PATCH that announces the whole rest of the upload, then closes the connection. */
    private void cutOff(String upload, long bytes) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", RestAssured.port)) {
            OutputStream out = socket.getOutputStream();
            out.write(("PATCH /api/v1/library/uploads/" + upload + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer " + Tokens.accessToken("admin") + "\r\n"
                    + "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                    + "Content-Length: " + GIB + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            imageBytes(0, bytes).transferTo(out);
            out.flush();
        }
    }

    /** Where the upload stands once the server has taken in what reached it (the same twice in a row). */
    private long settledOffset(String upload) throws InterruptedException {
        long last = -1;
        for (int i = 0; i < 120; i++) {
            long now = Long.parseLong(as("admin").header("Tus-Resumable", "1.0.0").when()
                    .head("/api/v1/library/uploads/" + upload).then().statusCode(200).extract().header("Upload-Offset"));
            if (now == last) {
                return now;
            }
            last = now;
            TimeUnit.MILLISECONDS.sleep(500);
        }
        return last;
    }

    /** A streamed PATCH (never in memory), retried while the cut request still holds the upload. */
    private HttpResponse<Void> patch(String upload, long offset, long length) throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        for (int attempt = 0; ; attempt++) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + RestAssured.port
                            + "/api/v1/library/uploads/" + upload))
                    .header("Authorization", "Bearer " + Tokens.accessToken("admin"))
                    .header("Tus-Resumable", "1.0.0").header("Upload-Offset", Long.toString(offset))
                    .header("Content-Type", "application/offset+octet-stream")
                    .method("PATCH", HttpRequest.BodyPublishers.fromPublisher(
                            HttpRequest.BodyPublishers.ofInputStream(() -> imageBytes(offset, length)), length))
                    .timeout(Duration.ofMinutes(10)).build();
            HttpResponse<Void> response = client.send(request, HttpResponse.BodyHandlers.discarding());
            if (response.statusCode() != 409 || attempt >= 20) {
                return response;
            }
            TimeUnit.MILLISECONDS.sleep(500);
        }
    }

    /** Uploads a small file in one PATCH; returns the import job's id. */
    private String uploadWhole(String name, String kind, String format, byte[] bytes) {
        String metadata = format == null ? metadata("name", name, "kind", kind) : metadata("name", name, "kind", kind, "format", format);
        String location = as("admin").header("Upload-Length", bytes.length).header("Upload-Metadata", metadata)
                .when().post("/api/v1/library/uploads").then().statusCode(201).extract().header("Location");
        String job = as("admin").header("Upload-Offset", 0).contentType("application/offset+octet-stream")
                .body(new ByteArrayInputStream(bytes)).when().patch(location.replaceFirst("^https?://[^/]+", ""))
                .then().statusCode(204).extract().header("Hypervise-Job");
        return job.substring(job.lastIndexOf('/') + 1);
    }

    /** Waits for the job to fail; its error. */
    private static String jobError(String job) throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            var state = as("admin").when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().jsonPath();
            if (state.getString("state").equals("failed")) {
                return state.getString("error");
            }
            assertThat(state.getString("state")).as("job " + job).isNotEqualTo("succeeded");
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("job " + job + " did not end within a minute");
    }

    private static String awaitSerial(String vm, String marker, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String serial = "";
        while (System.nanoTime() < deadline) {
            serial = as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=400").then().statusCode(200).extract().asString();
            if (serial.contains(marker)) {
                return serial;
            }
            TimeUnit.MILLISECONDS.sleep(500);
        }
        throw new AssertionError("the guest of " + vm + " did not print " + marker + " within " + timeout.toSeconds()
                + " s; its serial console:\n" + serial);
    }

    private static String metadata(String... pairs) {
        List<String> encoded = new ArrayList<>();
        for (int i = 0; i < pairs.length; i += 2) {
            encoded.add(pairs[i] + " " + Base64.getEncoder().encodeToString(pairs[i + 1].getBytes(StandardCharsets.UTF_8)));
        }
        return String.join(",", encoded);
    }

    private static String md5(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(bytes));
    }

    private static String sha256Of(Path file) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[MIB];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
    }
}
