package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static io.hypervise.server.GuestSerial.serial;
import static io.hypervise.server.GuestSerial.awaitSerial;
import static io.hypervise.server.GuestSerial.awaitSerialAfter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.nullValue;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.server.access.Caller;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.template.Templates;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Changing a VM while it runs, seen from inside the guest (tiny-linux prints what it sees when devices
 * change): a disk grown while the guest runs shows its new size to the guest; one grown while the VM is
 * Off boots with it; shrinking, a disk the VM does not have, and a disk it only uses are refused with the
 * field named, and the VM keeps running unchanged.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LiveChangesApiTest {

    private static final int MIB = 1 << 20;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @Inject
    Templates templates;

    private final List<String> made = new ArrayList<>();

    @AfterAll
    void removeTheVms() {
        for (String vm : made) {
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
    void aDiskGrownWhileTheGuestRunsShowsItsNewSizeInsideAndBadResizesChangeNothing() throws Exception {
        String vm = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"grower","display":"none","memoryMib":160,
                 "disks":[{"sizeMib":32,"format":"qcow2"}]}""")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(vm);
        // Grown while Off: the guest boots with it.
        as("admin").contentType("application/json").body("{\"sizeMib\":48}").when().patch("/api/v1/vms/" + vm + "/disks/0")
                .then().statusCode(200).body("disks[0].sizeBytes", equalTo(48 * MIB));
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerial(vm, "hv-disk vda " + 48L * MIB);
        awaitSerial(vm, "HYPERVISE-READY");

        as("admin").contentType("application/json").body("{\"sizeMib\":96}").when().patch("/api/v1/vms/" + vm + "/disks/0")
                .then().statusCode(200).body("disks[0].sizeBytes", equalTo(96 * MIB)).body("state", equalTo("Running"));
        awaitSerial(vm, "hv-disk vda " + 96L * MIB);

        as("admin").contentType("application/json").body("{\"sizeMib\":64}").when().patch("/api/v1/vms/" + vm + "/disks/0")
                .then().statusCode(400).body("violations[0].field", equalTo("sizeMib"))
                .body("violations[0].message", containsString("disks only grow"));
        as("admin").contentType("application/json").body("{\"sizeMib\":128}").when().patch("/api/v1/vms/" + vm + "/disks/3")
                .then().statusCode(400).body("violations[0].field", equalTo("disks[3]"));
        as("admin").contentType("application/json").body("{}").when().patch("/api/v1/vms/" + vm + "/disks/0")
                .then().statusCode(400).body("violations[0].field", equalTo("sizeMib"));
        as("admin").contentType("application/json").body("{\"sizeMib\":128}").when().patch("/api/v1/vms/" + vm + "/disks/x")
                .then().statusCode(400).body("violations[0].field", equalTo("position"));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Running"))
                .body("disks[0].sizeBytes", equalTo(96 * MIB));
        as("auditor").queryParam("action", "vm.disk.resize").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("FAILED"));
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
    }

    @Test
    @Order(20)
    void disksAddedAndRemovedWhileTheGuestRunsComeAndGoInsideAndStaySoAfterARestart() throws Exception {
        String vm = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"hot disks","display":"none","memoryMib":160,
                 "disks":[{"sizeMib":16,"format":"qcow2"}]}""")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(vm);
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerial(vm, "HYPERVISE-READY");

        as("admin").contentType("application/json").body("{\"sizeMib\":24,\"format\":\"qcow2\"}")
                .when().post("/api/v1/vms/" + vm + "/disks").then().statusCode(200)
                .body("disks.size()", equalTo(2)).body("disks[1].sizeBytes", equalTo(24 * MIB))
                .body("disks[1].owned", equalTo(true)).body("state", equalTo("Running"));
        awaitSerial(vm, "hv-disk vdb " + 24L * MIB);

        // The disk it booted with goes; the added one stays, and keeps the name QEMU knows it by.
        String kept = as("admin").when().delete("/api/v1/vms/" + vm + "/disks/0").then().statusCode(200)
                .body("disks.size()", equalTo(1)).extract().path("disks[0].path");
        awaitSerial(vm, "hv-disk-gone vda");
        assertThat(kept).endsWith("/disk1.qcow2");
        as("admin").contentType("application/json").body("{\"sizeMib\":40}").when().patch("/api/v1/vms/" + vm + "/disks/0")
                .then().statusCode(200);
        awaitSerial(vm, "hv-disk vdb " + 40L * MIB);

        // Bad additions change nothing: the VM runs on with its one disk.
        as("admin").contentType("application/json").body("{\"sizeMib\":0,\"format\":\"qcow2\"}")
                .when().post("/api/v1/vms/" + vm + "/disks").then().statusCode(400).body("violations[0].field", equalTo("sizeMib"));
        as("admin").contentType("application/json").body("{\"path\":\"../../etc/passwd\",\"format\":\"raw\"}")
                .when().post("/api/v1/vms/" + vm + "/disks").then().statusCode(400);
        as("admin").when().delete("/api/v1/vms/" + vm + "/disks/5").then().statusCode(400)
                .body("violations[0].field", equalTo("disks[5]"));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Running")).body("disks.size()", equalTo(1));

        // With a checkpoint, the set of disks holds still.
        String job = as("admin").contentType("application/json").body("{\"name\":\"c\"}")
                .when().post("/api/v1/vms/" + vm + "/checkpoints").then().statusCode(202).extract().path("id");
        VmApiTest.awaitJob("admin", job);
        as("admin").contentType("application/json").body("{\"sizeMib\":8,\"format\":\"qcow2\"}")
                .when().post("/api/v1/vms/" + vm + "/disks").then().statusCode(409)
                .body("detail", containsString("has checkpoints"));
        as("admin").contentType("application/json").body("{\"sizeMib\":64}").when().patch("/api/v1/vms/" + vm + "/disks/0")
                .then().statusCode(409).body("detail", containsString("has checkpoints"));
        as("admin").when().delete("/api/v1/vms/" + vm + "/disks/0").then().statusCode(409);

        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        int lines = serial(vm).split("\n").length;
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerialAfter(vm, lines, "hv-disk vda " + 40L * MIB);
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
    }

    /**
     * Resource controls on a guest that keeps its vCPU busy and then writes to its disk: capped, the worker
     * takes what the cap allows, measured from its CPU time as the host's kernel counts it; a cap changed while
     * it runs takes hold at once, and without a cap it is not held back, nor is an uncapped neighbour while it is
     * capped; the disk writes no faster than its limit. Bad values and values this host cannot enforce are refused with the field named, changing nothing.
     */
    @Test
    @Order(30)
    void cpuCapsAndDiskLimitsHoldInsideTheRunningWorkerAndChangeWhileItRuns() throws Exception {
        BootSource.Kernel tiny = (BootSource.Kernel) templates.bootSource(templates.find(Templates.TINY_LINUX).orElseThrow());
        Path root = engine.storage().path();
        String vm = as("admin").contentType("application/json").body("""
                {"name":"capped","display":"none","memoryMib":160,"vcpus":1,
                 "boot":{"kind":"kernel","kernel":"%s","initramfs":"%s","commandLine":"%s hv.burn=70 hv.write=16"},
                 "disks":[{"sizeMib":32,"format":"qcow2"}]}""".formatted(root.relativize(tiny.kernel()),
                root.relativize(tiny.initramfs()), tiny.commandLine()))
                .when().post("/api/v1/vms").then().statusCode(201).body("resources.cpuCapPercent", nullValue())
                .extract().path("id");
        made.add(vm);
        long limit = 2L * MIB;
        as("admin").contentType("application/json").body("{\"cpuCapPercent\":30,\"diskBytesPerSecond\":" + limit + "}")
                .when().put("/api/v1/vms/" + vm + "/resources").then().statusCode(200)
                .body("resources.cpuCapPercent", equalTo(30)).body("state", equalTo("Off"));
        VmApiTest.awaitJob("admin", as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202).extract().<String>path("id"));
        awaitSerial(vm, "hv-burn-start");
        long pid = ((Number) as("admin").when().get("/api/v1/vms/" + vm).then().extract().path("workerPid")).longValue();
        assertThat(Files.readString(Path.of("/proc/" + pid + "/cgroup"))).as("the worker's cgroups").contains("/" + vm);

        // A neighbour burning as hard, with no cap, on the same host at the same time: the cap holds the one
        // and does not hold back the other.
        String neighbour = as("admin").contentType("application/json").body("""
                {"name":"uncapped neighbour","display":"none","memoryMib":128,"vcpus":1,
                 "boot":{"kind":"kernel","kernel":"%s","initramfs":"%s","commandLine":"%s hv.burn=30"}}"""
                .formatted(root.relativize(tiny.kernel()), root.relativize(tiny.initramfs()), tiny.commandLine()))
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        made.add(neighbour);
        VmApiTest.awaitJob("admin", as("admin").when().post("/api/v1/vms/" + neighbour + "/start").then().statusCode(202)
                .extract().<String>path("id"));
        awaitSerial(neighbour, "hv-burn-start");
        long neighbourPid = ((Number) as("admin").when().get("/api/v1/vms/" + neighbour).then().extract().path("workerPid")).longValue();
        double[] together = cpuShares(pid, neighbourPid);
        double capped = together[0];
        assertThat(capped).as("CPU used under a 30 % cap, in cores").isBetween(0.20, 0.40);
        assertThat(together[1]).as("CPU used meanwhile by the uncapped neighbour (capped one: %.2f)", capped)
                .isGreaterThan(Math.max(0.6, 1.5 * capped));
        as("admin").when().post("/api/v1/vms/" + neighbour + "/turn-off").then().statusCode(200);

        as("admin").contentType("application/json").body("{\"cpuCapPercent\":70,\"diskBytesPerSecond\":" + limit + "}")
                .when().put("/api/v1/vms/" + vm + "/resources").then().statusCode(200).body("state", equalTo("Running"));
        double raised = cpuShare(pid);
        assertThat(raised).as("CPU used once the cap is raised to 70 % while it runs").isBetween(0.55, 0.85);

        // Bad values, and a reservation this host may not keep: refused, naming the field; the controls stay.
        as("admin").contentType("application/json").body("{\"cpuCapPercent\":0}").when().put("/api/v1/vms/" + vm + "/resources")
                .then().statusCode(400).body("violations[0].field", equalTo("resources.cpuCapPercent"));
        as("admin").contentType("application/json").body("{\"diskBytesPerSecond\":1}").when().put("/api/v1/vms/" + vm + "/resources")
                .then().statusCode(400).body("violations[0].field", equalTo("resources.diskBytesPerSecond"));
        as("admin").contentType("application/json").body("{\"cpuWeight\":\"lots\"}").when().put("/api/v1/vms/" + vm + "/resources")
                .then().statusCode(400);
        String noReservation = as("admin").when().get("/api/v1/host").then().statusCode(200)
                .extract().path("resourceControl.memoryReservationUnavailable");
        if (noReservation != null) {
            as("admin").contentType("application/json").body("{\"memoryReservationMib\":64}")
                    .when().put("/api/v1/vms/" + vm + "/resources").then().statusCode(400)
                    .body("violations[0].field", equalTo("resources.memoryReservationMib"))
                    .body("violations[0].message", containsString(noReservation));
        }
        as("admin").when().get("/api/v1/vms/" + vm + "/resources").then().statusCode(200)
                .body("cpuCapPercent", equalTo(70)).body("diskBytesPerSecond", equalTo((int) limit));

        // No cap: the same worker is not held back.
        as("admin").contentType("application/json").body("{\"diskBytesPerSecond\":" + limit + "}")
                .when().put("/api/v1/vms/" + vm + "/resources").then().statusCode(200);
        double free = cpuShare(pid);
        assertThat(free).as("CPU used with no cap (capped at 30 %%: %.2f)", capped).isGreaterThan(Math.max(0.6, 1.5 * capped));

        // 16 MiB at 2 MiB/s: about 8 s, whatever the host's disk could do.
        awaitSerial(vm, "hv-write-start");
        long start = System.nanoTime();
        awaitSerial(vm, "hv-wrote vda " + 16L * MIB);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertThat(seconds).as("seconds to write 16 MiB under a 2 MiB/s limit").isGreaterThan(6.0);
        System.out.printf("resource controls: %.2f cores capped at 30 %% beside an uncapped neighbour's %.2f, %.2f at 70 %%,"
                + " %.2f uncapped; 16 MiB written in %.1f s under 2 MiB/s%n", capped, together[1], raised, free, seconds);

        as("auditor").queryParam("action", "vm.resources").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("FAILED"));
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
    }

    /** The worker's CPU time over 8 s, in cores (1.0: one core all the time), from its /proc stat. */
    private static double cpuShare(long pid) throws Exception {
        return cpuShares(pid)[0];
    }

    /** The CPU each worker used over the same 8 s, in cores, as the host's kernel counts it. */
    private static double[] cpuShares(long... pids) throws Exception {
        long[] before = new long[pids.length];
        for (int i = 0; i < pids.length; i++) {
            before[i] = cpuTicks(pids[i]);
        }
        long start = System.nanoTime();
        TimeUnit.SECONDS.sleep(8);
        double seconds = (System.nanoTime() - start) / 1e9;
        double[] shares = new double[pids.length];
        for (int i = 0; i < pids.length; i++) {
            shares[i] = (cpuTicks(pids[i]) - before[i]) / 100.0 / seconds;
        }
        return shares;
    }

    private static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime and stime, fields 14 and 15
    }
}
