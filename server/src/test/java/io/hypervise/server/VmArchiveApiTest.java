package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.OutputStream;
import io.restassured.path.json.JsonPath;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A VM exported as one archive and imported again, through the real stack: the imported VM boots from
 * the disk that was exported (a raw image, carried as qcow2) with the first one's settings; the standard
 * tools read the archive ({@code tar}, {@code sha256sum -c}); the VM is held Off while it is sent and let
 * go when the download stops; damaged, cut and hostile archives are refused with the reason and leave
 * nothing behind; a self-service user's import is counted against their quota before a byte of disk is
 * written; a UEFI VM takes its firmware variables along.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VmArchiveApiTest {

    private static final int MIB = 1 << 20;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    private Path work;
    private Path archive;
    private final List<String> made = new ArrayList<>();

    @BeforeAll
    void folder() throws IOException {
        work = Files.createTempDirectory("hv-archive-test");
    }

    @AfterAll
    void removeWhatWasMade() throws Exception {
        for (String vm : made) {
            if (engine.vms().find(vm).isPresent()) {
                if (engine.vms().status(vm).state() != VmState.OFF) {
                    engine.vms().turnOff(vm);
                }
                vms.delete(Caller.host(), vm);
            }
        }
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById("alice-archives"));
        run("rm", "-rf", work.toString());
    }

    @Test
    @Order(10)
    void aVmExportedAndImportedBootsFromItsDiskWithItsSettings() throws Exception {
        String word = "a" + Long.toHexString(new Random().nextLong() & 0xffffffffL);
        Path golden = engine.storage().path().resolve("archive-test/golden.img");
        Files.createDirectories(golden.getParent());
        try (RandomAccessFile raw = new RandomAccessFile(golden.toFile(), "rw")) {
            raw.setLength(64L * MIB);
            raw.write(("hv-stamp:" + word + "\n").getBytes(StandardCharsets.US_ASCII));
        }
        String first = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"exported one","memoryMib":160,"vcpus":1,"display":"none",
                 "disks":[{"path":"archive-test/golden.img","format":"raw"}],"nics":[{"mac":"52:54:00:ab:cd:01"}]}""")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(first);

        archive = work.resolve("exported-one.hvm.tar");
        HttpResponse<Path> download = http().send(get("/api/v1/vms/" + first + "/export", "admin"),
                HttpResponse.BodyHandlers.ofFile(archive));
        assertThat(download.statusCode()).isEqualTo(200);
        assertThat(download.headers().firstValue("Content-Disposition")).hasValue("attachment; filename=\"exported-one.hvm.tar\"");
        assertThat(download.headers().firstValueAsLong("Content-Length")).hasValue(Files.size(archive));
        // The standard tools read it: the entries in their order, and every sum right.
        assertThat(output("tar", "-tf", archive.toString()).lines().toList())
                .containsExactly("hypervise-vm.json", "disks/disk0.qcow2", "SHA256SUMS");
        Path unpacked = Files.createDirectories(work.resolve("unpacked"));
        run("tar", "-xf", archive.toString(), "-C", unpacked.toString());
        assertThat(output("sh", "-c", "cd " + unpacked + " && sha256sum -c SHA256SUMS")).contains("disks/disk0.qcow2: OK");
        assertThat(output("qemu-img", "info", "-f", "qcow2", unpacked.resolve("disks/disk0.qcow2").toString()))
                .contains("virtual size: 64 MiB").doesNotContain("backing file");
        as("auditor").queryParam("action", "vm.export").queryParam("target", "vm:" + first).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED"));
        as("admin").when().get("/api/v1/vms/" + first).then().body("pending", nullValue());

        // Imported beside the VM it came from: everything as it was, but a MAC of its own (MACs are unique).
        JsonPath imported = importing("admin", Files.readAllBytes(archive), "imported one", 201);
        String second = imported.getString("vm.id");
        made.add(second);
        assertThat(imported.getString("vm.name")).isEqualTo("imported one");
        assertThat(imported.getInt("vm.memoryMib")).isEqualTo(160);
        assertThat(imported.getString("vm.template")).isEqualTo("tiny-linux");
        assertThat(imported.getString("vm.disks[0].format")).isEqualTo("qcow2");
        assertThat(imported.getBoolean("vm.disks[0].owned")).isTrue();
        assertThat(imported.getString("vm.nics[0].mac")).startsWith("52:54:00:").isNotEqualTo("52:54:00:ab:cd:01");
        assertThat(imported.getList("notCarried", String.class))
                .containsExactly("adapter 52:54:00:ab:cd:01 has a new MAC: VM 'exported one' has that one");
        as("auditor").queryParam("action", "vm.import").queryParam("target", "vm:" + second).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED"));
        as("admin").when().post("/api/v1/vms/" + second + "/start").then().statusCode(202);
        awaitSerial(second, "hv-found vda " + word, Duration.ofSeconds(120));
        as("admin").when().post("/api/v1/vms/" + second + "/turn-off").then().statusCode(200);
        assertThat(transfers()).as("nothing left in the staging folders").isEmpty();
    }

    @Test
    @Order(20)
    void aVmIsHeldOffWhileItIsSentAndAStoppedDownloadLetsItGo() throws Exception {
        // 48 MiB that do not compress, so the archive cannot all wait in the sockets' buffers.
        Path busy = Files.createDirectories(engine.storage().path().resolve("archive-test")).resolve("busy.img");
        byte[] noise = new byte[MIB];
        Random random = new Random(7);
        try (OutputStream out = Files.newOutputStream(busy)) {
            for (int i = 0; i < 48; i++) {
                random.nextBytes(noise);
                out.write(noise);
            }
        }
        String vm = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"sent slowly","display":"none",
                 "disks":[{"path":"archive-test/busy.img","format":"raw"}]}""")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(vm);
        // A client that reads the first bytes and then nothing: a slow download, as the server sees it.
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.setReceiveBufferSize(64 * 1024);
            socket.connect(new java.net.InetSocketAddress("127.0.0.1", RestAssured.port));
            socket.getOutputStream().write(("GET /api/v1/vms/" + vm + "/export HTTP/1.1\r\nHost: localhost\r\n"
                    + "Authorization: Bearer " + Tokens.accessToken("admin") + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] first = socket.getInputStream().readNBytes(1024);
            assertThat(new String(first, StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 200");
            TimeUnit.SECONDS.sleep(1);
            as("operator").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(409)
                    .body("detail", containsString("is being exported"));
            as("admin").when().get("/api/v1/vms/" + vm + "/export").then().statusCode(409);
            as("admin").when().get("/api/v1/vms/" + vm).then().body("pending", equalTo("exporting"));
        }
        // The client went away mid-archive: the VM is let go, and the log says the export did not complete.
        awaitUntil(() -> as("admin").when().get("/api/v1/vms/" + vm).then().extract().path("pending") == null,
                "the VM to be let go once its download stopped");
        as("auditor").queryParam("action", "vm.export").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.reason", hasItem(startsWith("the download stopped")));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Off"));
        awaitUntil(() -> transfers().isEmpty(), "the export's work files to go");
    }

    @Test
    @Order(30)
    void damagedCutAndHostileArchivesAreRefusedAndLeaveNothing() throws Exception {
        byte[] good = Files.readAllBytes(archive);
        long vmsBefore = vmCount();

        refused("hello, not a tar".getBytes(StandardCharsets.UTF_8), "body", "must be a VM archive");
        refused(Arrays.copyOf(good, good.length / 2), "body", "is not a complete VM archive");
        byte[] damaged = good.clone();
        int data = dataOffset(good, "disks/disk0.qcow2");
        damaged[data + 70_000] ^= 0x5a;
        refused(damaged, "body", "entry disks/disk0.qcow2 is damaged");

        // A qcow2 that names a host file as its backing file, with sums that are right: refused for its header.
        Path evil = work.resolve("evil.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw", evil.toString(), "64M");
        refused(rewritten(good, "disks/disk0.qcow2", Files.readAllBytes(evil)), "disks[0].file", "backing");
        // A manifest that names an entry outside its layout.
        String manifest = new String(entry(good, "hypervise-vm.json"), StandardCharsets.UTF_8)
                .replace("\"disks/disk0.qcow2\"", "\"../../etc/passwd\"");
        refused(rewritten(good, "hypervise-vm.json", manifest.getBytes(StandardCharsets.UTF_8)), "hypervise-vm.json",
                "vm.disks[0].file must be 'disks/disk0.qcow2'; got '../../etc/passwd'");

        assertThat(vmCount()).as("VMs recorded").isEqualTo(vmsBefore);
        assertThat(transfers()).as("nothing left in the staging folders").isEmpty();
    }

    @Test
    @Order(40)
    void aSelfServiceImportIsCountedAgainstTheQuotaBeforeAByteOfDiskLands() throws Exception {
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity p = new PolicyEntity();
            p.id = "alice-archives";
            p.name = "Alice's small quota";
            p.description = "";
            p.precedence = 450;
            p.assignedUsers = new String[] {"alice"};
            p.hostGroups = new String[] {"default"};
            p.templates = new String[] {"tiny-linux"};
            p.actions = new String[] {"start", "shut-down", "turn-off"};
            p.maxDiskMib = 32L;
            p.createdAt = Instant.now();
            p.updatedAt = p.createdAt;
            p.persist();
        });
        long vmsBefore = vmCount();
        assertThat(importing("alice", Files.readAllBytes(archive), null, 403).getList("reasons", String.class))
                .anySatisfy(reason -> assertThat(reason).contains("disk"));
        assertThat(vmCount()).isEqualTo(vmsBefore);
        assertThat(transfers()).isEmpty();
        as("auditor").queryParam("action", "vm.import").queryParam("outcome", "DENIED").when().get("/api/v1/audit")
                .then().statusCode(200).body("items.actor", hasItem("alice"));

        // Her own VM, under a policy that does not name export: refused, the reason given.
        String hers = blankVm("alice's", "alice");
        as("alice").when().get("/api/v1/vms/" + hers + "/export").then().statusCode(403)
                .body("detail", containsString("export"));
        as("bob").when().get("/api/v1/vms/" + hers + "/export").then().statusCode(404);
    }

    @Test
    @Order(50)
    void aUefiVmTakesItsFirmwareVariablesAlong() throws Exception {
        String vm = as("admin").contentType("application/json").body("""
                {"name":"uefi one","firmware":"uefi","display":"none","memoryMib":128,"boot":{"kind":"disk"},
                 "disks":[{"sizeMib":16,"format":"qcow2"}]}""")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(vm);
        Path variables = engine.vms().uefiVariables(vm).orElseThrow();
        byte[] changed = Files.readAllBytes(variables);
        byte[] mark = ("hv-vars-" + vm).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(mark, 0, changed, changed.length - 4096, mark.length);
        Files.write(variables, changed);

        Path uefiArchive = work.resolve("uefi.hvm.tar");
        assertThat(http().send(get("/api/v1/vms/" + vm + "/export", "admin"), HttpResponse.BodyHandlers.ofFile(uefiArchive))
                .statusCode()).isEqualTo(200);
        assertThat(output("tar", "-tf", uefiArchive.toString()).lines().toList())
                .containsExactly("hypervise-vm.json", "disks/disk0.qcow2", "uefi-vars.fd", "SHA256SUMS");
        JsonPath imported = importing("admin", Files.readAllBytes(uefiArchive), null, 201);
        String copy = imported.getString("vm.id");
        assertThat(imported.getString("vm.firmware")).isEqualTo("uefi");
        assertThat(imported.getString("vm.name")).isEqualTo("uefi one");
        made.add(copy);
        assertThat(Files.readAllBytes(engine.vms().uefiVariables(copy).orElseThrow())).isEqualTo(changed);
    }

    // ------------------------------------------------------------------ helpers

    private String blankVm(String name, String owner) {
        String id = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"%s","display":"none","disks":[{"sizeMib":64,"format":"qcow2"}]}"""
                .formatted(name)).when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(id);
        if (owner != null) {
            QuarkusTransaction.requiringNew().run(() -> VmEntity.update("owner = ?1 where id = ?2", owner, id));
        }
        return id;
    }

    private void refused(byte[] body, String field, String message) throws Exception {
        JsonPath problem = importing("admin", body, null, 400);
        assertThat(problem.getList("violations.field", String.class)).as(problem.prettify()).contains(field);
        assertThat(problem.getList("violations.message", String.class)).as(problem.prettify())
                .anySatisfy(m -> assertThat(m).contains(message));
    }

    /** Sends an archive to the import (not through RestAssured, which would log megabytes of it on a failure). */
    private static JsonPath importing(String user, byte[] archive, String name, int status) throws Exception {
        String query = name == null ? "" : "?name=" + java.net.URLEncoder.encode(name, StandardCharsets.UTF_8);
        HttpResponse<String> response = http().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + RestAssured.port
                        + "/api/v1/vms/import" + query))
                .header("Authorization", "Bearer " + Tokens.accessToken(user)).header("Content-Type", "application/x-tar")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)).timeout(Duration.ofMinutes(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        return JsonPath.from(response.body());
    }

    private static long vmCount() {
        return QuarkusTransaction.requiringNew().call(() -> VmEntity.count());
    }

    private List<Path> transfers() throws IOException {
        Path root = engine.storage().path().resolve("transfers");
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).toList();
        }
    }

    /** Where the entry's data begins in the archive. */
    private static int dataOffset(byte[] tar, String name) throws IOException {
        int offset = 0;
        try (TarArchiveInputStream in = new TarArchiveInputStream(new java.io.ByteArrayInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                if (e.getName().equals(name)) {
                    return offset + 512;
                }
                offset += 512 + (int) ((e.getSize() + 511) / 512 * 512);
            }
        }
        throw new AssertionError("no entry " + name);
    }

    private static byte[] entry(byte[] tar, String name) throws IOException {
        try (TarArchiveInputStream in = new TarArchiveInputStream(new java.io.ByteArrayInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                if (e.getName().equals(name)) {
                    return in.readAllBytes();
                }
            }
        }
        throw new AssertionError("no entry " + name);
    }

    /**
     * The archive with one entry's content replaced, the manifest's lengths and the sums made to match: a
     * well-formed archive whose only fault is what that entry holds.
     */
    private static byte[] rewritten(byte[] tar, String name, byte[] content) throws Exception {
        List<String> names = new ArrayList<>();
        List<byte[]> contents = new ArrayList<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new java.io.ByteArrayInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                names.add(e.getName());
                contents.add(e.getName().equals(name) ? content : in.readAllBytes());
            }
        }
        int manifest = names.indexOf("hypervise-vm.json");
        if (!name.equals("hypervise-vm.json")) {
            String json = new String(contents.get(manifest), StandardCharsets.UTF_8);
            long old = entry(tar, name).length;
            contents.set(manifest, json.replace("\"bytes\" : " + old, "\"bytes\" : " + content.length)
                    .getBytes(StandardCharsets.UTF_8));
        }
        StringBuilder sums = new StringBuilder();
        for (int i = 0; i < names.size() - 1; i++) {
            sums.append(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(contents.get(i)))).append("  ").append(names.get(i)).append('\n');
        }
        contents.set(names.size() - 1, sums.toString().getBytes(StandardCharsets.US_ASCII));
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (TarArchiveOutputStream tarOut = new TarArchiveOutputStream(out)) {
            for (int i = 0; i < names.size(); i++) {
                TarArchiveEntry e = new TarArchiveEntry(names.get(i));
                e.setSize(contents.get(i).length);
                tarOut.putArchiveEntry(e);
                tarOut.write(contents.get(i));
                tarOut.closeArchiveEntry();
            }
        }
        return out.toByteArray();
    }

    private static HttpClient http() {
        return HttpClient.newHttpClient();
    }

    private static HttpRequest get(String path, String user) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + RestAssured.port + path))
                .header("Authorization", "Bearer " + Tokens.accessToken(user)).timeout(Duration.ofMinutes(5)).build();
    }

    private static void awaitUntil(Check condition, String what) throws Exception {
        for (int i = 0; i < 200; i++) {
            if (condition.ok()) {
                return;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("waited 20 s for " + what);
    }

    private interface Check {
        boolean ok() throws Exception;
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

    private static String output(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }

    private static void run(String... command) throws IOException, InterruptedException {
        output(command);
    }
}
