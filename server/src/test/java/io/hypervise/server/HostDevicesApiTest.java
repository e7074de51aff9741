package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static io.hypervise.server.GuestSerial.awaitSerial;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.storage.LoopDevice;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.server.access.Caller;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.template.Templates;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Pass-through disks with real loop devices over sparse files the test makes (tests run as root): a running
 * tiny-linux guest sees a whole host device as a disk of the file's size, reads what the host wrote on it and
 * writes what the host then reads; one added while it runs comes and goes inside. A regular file, a partition,
 * the host's root disk, a device another VM holds, and callers who are not administrators are refused, the
 * field named; of two VMs asking for one device at once, one gets it.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostDevicesApiTest {

    private static final long MIB = 1 << 20;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @Inject
    Templates templates;

    private final List<String> made = new ArrayList<>();
    private final List<LoopDevice> loops = new ArrayList<>();
    private Path dir;
    private Path stampedFile;
    private String stamped;
    private String spare;
    private String partitioned;

    @BeforeAll
    void makeLoopDevices() throws Exception {
        dir = Files.createTempDirectory("hv-host-devices");
        stampedFile = dir.resolve("stamped.img");
        try (FileChannel f = FileChannel.open(stampedFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap("hv-stamp:fromhost\n".getBytes(StandardCharsets.US_ASCII)), 0);
        }
        stamped = attach(LoopDevice.over(stampedFile, 64 * MIB));
        spare = attach(LoopDevice.over(dir.resolve("spare.img"), 48 * MIB));
        // A DOS table with one 16 MiB partition, which the kernel lists as <device>p1.
        partitioned = attach(LoopDevice.partitioned(dir.resolve("table.img"), 32 * MIB));
    }

    @AfterAll
    void removeTheVmsAndDetach() throws Exception {
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
    void filesPartitionsTheRootDiskAndCallersWhoAreNotAdministratorsAreRefused() throws Exception {
        Path file = Files.write(dir.resolve("plain.img"), new byte[(int) MIB]);
        create("admin", file.toString()).then().statusCode(400).body("violations[0].field", equalTo("disks[0].device"))
                .body("violations[0].message", startsWith("is a regular file, not a block device"));
        create("admin", partitioned + "p1").then().statusCode(400).body("violations[0].field", equalTo("disks[0].device"))
                .body("violations[0].message", startsWith("is partition 1 of " + partitioned + ", not a whole disk"));
        create("admin", rootDisk()).then().statusCode(400).body("violations[0].field", equalTo("disks[0].device"))
                .body("violations[0].message", startsWith("holds the host's root file system (/)"));
        create("admin", "/dev/null").then().statusCode(400).body("violations[0].field", equalTo("disks[0].device"))
                .body("violations[0].message", startsWith("is a character device"));
        create("admin", "dev/loop0").then().statusCode(400).body("violations[0].field", equalTo("disks[0].device"));
        as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","display":"none","disks":[{"device":"%s","format":"qcow2"}]}""".formatted(spare))
                .when().post("/api/v1/vms").then().statusCode(400).body("violations[0].field", equalTo("disks[0].format"));
        create("operator", spare).then().statusCode(403).body("detail", containsString("only administrators"));
        create("alice", spare).then().statusCode(403);
        as("auditor").queryParam("action", "vm.create").queryParam("outcome", "DENIED").when().get("/api/v1/audit")
                .then().statusCode(200).body("items.reason", hasItem(containsString(spare)));

        // Two VMs ask for one device at the same moment: one gets it, the other is refused and nothing is left of it.
        CountDownLatch go = new CountDownLatch(1);
        Callable<Response> ask = () -> {
            go.await();
            return create("admin", spare);
        };
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<Response>> answers = List.of(pool.submit(ask), pool.submit(ask));
        go.countDown();
        List<Integer> statuses = new ArrayList<>();
        String winner = null;
        for (Future<Response> answer : answers) {
            Response r = answer.get(2, TimeUnit.MINUTES);
            statuses.add(r.statusCode());
            if (r.statusCode() == 201) {
                winner = r.path("id");
                made.add(winner);
                assertThat((Boolean) r.path("disks[0].hostDevice")).isTrue();
                assertThat((Integer) r.path("disks[0].sizeBytes")).isEqualTo((int) (48 * MIB));
            } else {
                assertThat(r.<String>path("detail")).contains("given to");
            }
        }
        pool.shutdown();
        assertThat(statuses).containsExactlyInAnyOrder(201, 409);
        as("admin").queryParam("size", 500).when().get("/api/v1/vms").then().statusCode(200)
                .body("items.findAll { it.disks.any { d -> d.path == '" + spare + "' } }.size()", equalTo(1));
        // Added to two VMs at the same moment: one gets it; the other's engine and inventory know nothing of it.
        List<String> pair = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            String id = as("admin").contentType("application/json").body("""
                    {"template":"tiny-linux","display":"none","memoryMib":160,"disks":[{"sizeMib":8,"format":"qcow2"}]}""")
                    .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
            made.add(id);
            pair.add(id);
        }
        CountDownLatch both = new CountDownLatch(1);
        ExecutorService adders = Executors.newFixedThreadPool(2);
        List<Future<Response>> added = new ArrayList<>();
        for (String id : pair) {
            added.add(adders.submit(() -> {
                both.await();
                return as("admin").contentType("application/json").body("{\"device\":\"" + partitioned + "\"}")
                        .when().post("/api/v1/vms/" + id + "/disks");
            }));
        }
        both.countDown();
        List<Integer> addStatuses = new ArrayList<>();
        for (Future<Response> r : added) {
            addStatuses.add(r.get(2, TimeUnit.MINUTES).statusCode());
        }
        adders.shutdown();
        assertThat(addStatuses).containsExactlyInAnyOrder(200, 409);
        int holders = 0;
        for (String id : pair) {
            int disks = as("admin").when().get("/api/v1/vms/" + id).then().statusCode(200).extract().path("disks.size()");
            long inEngine = engine.vms().status(id).definition().disks().stream().filter(d -> d.hostDevice()).count();
            assertThat(inEngine).as("host devices of " + id + " in the engine").isEqualTo(disks - 1);
            holders += disks - 1;
        }
        assertThat(holders).as("VMs the partitioned device was given to").isEqualTo(1);
        for (String id : pair) {
            as("admin").when().delete("/api/v1/vms/" + id).then().statusCode(204);
        }

        // Deleted, its VM gives the device back; the device itself stays, with what is on it.
        as("admin").when().delete("/api/v1/vms/" + winner).then().statusCode(204);
        assertThat(Path.of(spare)).exists();
        String again = create("admin", spare).then().statusCode(201).extract().path("id");
        made.add(again);
        as("admin").when().delete("/api/v1/vms/" + again).then().statusCode(204);
    }

    @Test
    @Order(20)
    void aRunningGuestSeesTheWholeDeviceReadsWhatTheHostWroteAndWritesWhatTheHostReads() throws Exception {
        BootSource.Kernel tiny = (BootSource.Kernel) templates.bootSource(templates.find(Templates.TINY_LINUX).orElseThrow());
        Path root = engine.storage().path();
        String vm = as("admin").contentType("application/json").body("""
                {"name":"passed through","display":"none","memoryMib":160,
                 "boot":{"kind":"kernel","kernel":"%s","initramfs":"%s","commandLine":"%s hv.stamp=fromguest"},
                 "disks":[{"device":"%s"}]}""".formatted(root.relativize(tiny.kernel()), root.relativize(tiny.initramfs()),
                tiny.commandLine(), stamped))
                .when().post("/api/v1/vms").then().statusCode(201)
                .body("disks[0].path", equalTo(stamped)).body("disks[0].hostDevice", equalTo(true))
                .body("disks[0].format", equalTo("raw")).body("disks[0].owned", equalTo(false))
                .body("disks[0].sizeBytes", equalTo((int) (64 * MIB))).extract().path("id");
        made.add(vm);
        // Another VM may not have it too, running or not.
        create("admin", stamped).then().statusCode(409).body("detail", containsString("is given to VM 'passed through'"));

        VmApiTest.awaitJob("admin", as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202).extract().<String>path("id"));
        awaitSerial(vm, "hv-disk vda " + 64 * MIB);
        awaitSerial(vm, "hv-found vda fromhost");
        awaitSerial(vm, "hv-stamped vda fromguest");
        byte[] head = new byte[19];
        try (FileChannel f = FileChannel.open(stampedFile, StandardOpenOption.READ)) {
            f.read(ByteBuffer.wrap(head), 0);
        }
        assertThat(new String(head, StandardCharsets.US_ASCII)).as("the loop file's first bytes").isEqualTo("hv-stamp:fromguest\n");

        // Added while it runs, the second device shows inside at once, and goes again.
        as("admin").contentType("application/json").body("{\"device\":\"" + partitioned + "p1\"}")
                .when().post("/api/v1/vms/" + vm + "/disks").then().statusCode(400).body("violations[0].field", equalTo("device"));
        as("operator").contentType("application/json").body("{\"device\":\"" + spare + "\"}")
                .when().post("/api/v1/vms/" + vm + "/disks").then().statusCode(403);
        as("admin").contentType("application/json").body("{\"device\":\"" + spare + "\"}")
                .when().post("/api/v1/vms/" + vm + "/disks").then().statusCode(200)
                .body("disks.size()", equalTo(2)).body("disks[1].path", equalTo(spare))
                .body("disks[1].hostDevice", equalTo(true)).body("state", equalTo("Running"));
        awaitSerial(vm, "hv-disk vdb " + 48 * MIB);

        // No checkpoint can keep what is on a host's device: refused by name.
        as("admin").contentType("application/json").body("{\"name\":\"c\"}").when().post("/api/v1/vms/" + vm + "/checkpoints")
                .then().statusCode(400).body("violations.field", hasItem("disks[0]"))
                .body("violations.message", hasItem(containsString("is the host device " + stamped)));

        as("admin").when().delete("/api/v1/vms/" + vm + "/disks/1").then().statusCode(200).body("disks.size()", equalTo(1));
        awaitSerial(vm, "hv-disk-gone vdb");
        assertThat(Path.of(spare)).as("a removed device stays the host's").exists();
        String other = create("admin", spare).then().statusCode(201).extract().path("id");
        made.add(other);
        as("admin").when().delete("/api/v1/vms/" + other).then().statusCode(204);

        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        as("admin").contentType("application/json").body("{\"template\":\"from-device\",\"name\":\"From a device\"}")
                .when().post("/api/v1/vms/" + vm + "/store").then().statusCode(409)
                .body("detail", containsString("host device " + stamped + " (disks[0])"));
        as("admin").when().get("/api/v1/vms/" + vm + "/export").then().statusCode(409)
                .body("detail", containsString("cannot be exported"));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Off")).body("pending", equalTo(null));
        as("auditor").queryParam("action", "vm.disk.add").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED"))
                .body("items.parameters.device", hasItem(spare));
    }

    private static Response create(String user, String device) {
        return as(user).contentType("application/json").body("""
                {"template":"tiny-linux","display":"none","memoryMib":160,"disks":[{"device":"%s"}]}""".formatted(device))
                .when().post("/api/v1/vms");
    }

    /** The whole disk the host's root file system is on, by the kernel's account of its mount. */
    private static String rootDisk() throws IOException {
        String majorMinor = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().map(l -> l.split(" "))
                .filter(f -> f[4].equals("/")).map(f -> f[2]).findFirst().orElseThrow();
        Path sys = Path.of("/sys/dev/block", majorMinor).toRealPath();
        Path disk = Files.exists(sys.resolve("partition")) ? sys.getParent() : sys;
        return "/dev/" + disk.getFileName();
    }

    /** The loop device's path, kept to be detached when the tests end. */
    private String attach(LoopDevice loop) {
        loops.add(loop);
        return loop.path().toString();
    }
}
