package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
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
        awaitJob(job);
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

    private static String serial(String vm) {
        return as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=10000").then().statusCode(200).extract().asString();
    }

    private static void awaitSerialAfter(String vm, int from, String marker) throws InterruptedException {
        for (int i = 0; i < 400; i++) {
            String[] lines = serial(vm).split("\n");
            for (int k = Math.min(from, lines.length); k < lines.length; k++) {
                if (lines[k].equals(marker)) {
                    return;
                }
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " did not print '" + marker + "' after line " + from);
    }

    private static void awaitJob(String job) throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            String state = as("admin").when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().path("state");
            if (state.equals("succeeded")) {
                return;
            }
            assertThat(state).isNotEqualTo("failed");
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("job " + job + " did not end within a minute");
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
}
