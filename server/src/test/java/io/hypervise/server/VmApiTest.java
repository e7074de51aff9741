package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.config.ConfigProvider;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A self-service user's VM through the API, end to end: created from the tiny-linux template, kept in
 * PostgreSQL, booted for real, operated, and deleted; other users see it according to their roles.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VmApiTest {

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    Flyway flyway;

    private String id;
    private Path disk;

    @Test
    @Order(10)
    void aliceCreatesAVmFromTheTemplateAndOwnsIt() {
        TestPolicies.allowEverything("alice-everything", "alice");
        as("alice").when().get("/api/v1/templates").then().statusCode(200)
                .body("items.id", hasItems("tiny-linux", "tiny-linux-i386"))
                .body("items.find { it.id == 'tiny-linux' }.memoryMib", equalTo(256))
                .body("items.find { it.id == 'tiny-linux-i386' }.name", equalTo("Tiny Linux (32-bit)"));
        as("alice").when().get("/api/v1/templates/windows-11").then().statusCode(404);
        id = as("alice").contentType("application/json")
                .body("{\"template\":\"tiny-linux\",\"name\":\"alice's box\",\"disks\":[{\"sizeMib\":64,\"format\":\"qcow2\"}]}")
                .when().post("/api/v1/vms")
                .then().statusCode(201)
                .header("Location", containsString("/api/v1/vms/vm-"))
                .body("owner", equalTo("alice"))
                .body("state", equalTo("Off"))
                .body("name", equalTo("alice's box"))
                .body("template", equalTo("tiny-linux"))
                .body("memoryMib", equalTo(256))
                .body("disks[0].format", equalTo("qcow2"))
                .body("disks[0].sizeBytes", equalTo(64 << 20))
                .body("disks[0].owned", equalTo(true))
                .extract().path("id");
        disk = Path.of(as("alice").when().get("/api/v1/vms/" + id).then().extract().<String>path("disks[0].path"));
        assertThat(disk).isRegularFile().startsWith(engine.storage().path()).hasFileName("disk0.qcow2");
    }

    @Test
    @Order(20)
    void othersSeeItAsTheirRolesAllow() {
        as("alice").when().get("/api/v1/vms").then().statusCode(200).body("items.id", hasItem(id));
        as("operator").when().get("/api/v1/vms?owner=alice").then().statusCode(200).body("items.id", hasItem(id));
        as("bob").when().get("/api/v1/vms").then().statusCode(200).body("items.id", not(hasItem(id)));
        as("bob").when().get("/api/v1/vms/" + id).then().statusCode(404);
        as("bob").when().post("/api/v1/vms/" + id + "/start").then().statusCode(404);
        as("auditor").when().post("/api/v1/vms/" + id + "/start").then().statusCode(403);
        as("auditor").contentType("application/json").body("{\"template\":\"tiny-linux\"}").when().post("/api/v1/vms")
                .then().statusCode(403);
        as("bob").contentType("application/json").body("{\"name\":\"bob's now\"}").when().patch("/api/v1/vms/" + id)
                .then().statusCode(404);
    }

    @Test
    @Order(30)
    void startedItBootsAndItsSerialConsoleShowsTheGuest() {
        String job = as("alice").when().post("/api/v1/vms/" + id + "/start").then().statusCode(202)
                .header("Location", containsString("/api/v1/jobs/"))
                .body("kind", equalTo("vm-start"))
                .extract().path("id");
        awaitJob("alice", job);
        as("alice").when().get("/api/v1/jobs/" + job).then().statusCode(200)
                .body("state", equalTo("succeeded")).body("progress", equalTo(100));
        as("bob").when().get("/api/v1/jobs/" + job).then().statusCode(404);
        as("operator").when().get("/api/v1/jobs/" + job).then().statusCode(200);
        as("alice").when().get("/api/v1/jobs/not-a-uuid").then().statusCode(404);
        as("alice").when().get("/api/v1/vms/" + id).then().statusCode(200).body("state", equalTo("Running"));
        awaitSerial("HYPERVISE-READY", Duration.ofSeconds(60));
        assertThat(serial()).as("the guest sees its blank disk").contains("hv-disk vda " + (64 << 20));
        as("alice").when().delete("/api/v1/vms/" + id).then().statusCode(409)
                .body("detail", startsWith("cannot delete VM"));
        as("alice").when().post("/api/v1/vms/" + id + "/resume").then().statusCode(409);
        as("alice").when().post("/api/v1/vms/" + id + "/pause").then().statusCode(200).body("state", equalTo("Paused"));
        as("alice").when().post("/api/v1/vms/" + id + "/teleport").then().statusCode(404)
                .body("detail", startsWith("no action 'teleport'"));
    }

    @Test
    @Order(35)
    void whileTheAuditLogCannotBeWrittenNothingIsDoneAndTheCallerIsToldWhy() throws Exception {
        long pid = engine.vms().status(id).workerPid().orElseThrow();
        long vms = as("admin").when().get("/api/v1/vms").then().extract().jsonPath().getLong("total");
        withTheAuditLogRefusingWrites(() -> {
            for (String action : List.of("resume", "turn-off", "save")) {
                as("alice").when().post("/api/v1/vms/" + id + "/" + action).then().statusCode(503)
                        .body("detail", startsWith("the audit log cannot record this request now, so nothing was done"));
            }
            as("alice").contentType("application/json").body("{\"template\":\"tiny-linux\",\"name\":\"unrecorded\"}")
                    .when().post("/api/v1/vms").then().statusCode(503);
        });
        // The worker was neither resumed, saved nor turned off; no VM was created, in the database or the engine.
        as("alice").when().get("/api/v1/vms/" + id).then().statusCode(200).body("state", equalTo("Paused"));
        assertThat(engine.vms().status(id).workerPid()).hasValue(pid);
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).hasValue(true);
        assertThat(as("admin").when().get("/api/v1/vms").then().extract().jsonPath().getLong("total")).isEqualTo(vms);
        assertThat(engine.vms().list()).noneMatch(vm -> vm.name().equals("unrecorded"));
        // With the log back, the same request works and is recorded as asked, then as done.
        as("alice").when().post("/api/v1/vms/" + id + "/resume").then().statusCode(200).body("state", equalTo("Running"));
        as("alice").when().post("/api/v1/vms/" + id + "/pause").then().statusCode(200).body("state", equalTo("Paused"));
        assertThat(as("auditor").queryParam("target", "vm:" + id).queryParam("action", "vm.pause").when().get("/api/v1/audit")
                .then().statusCode(200).extract().jsonPath().getList("items.outcome", String.class))
                .as("newest first: the outcome, then the intent it follows").startsWith("SUCCEEDED", "REQUESTED");
    }

    /** Runs {@code body} while the application's role may not add to the audit log (as a DBA could make it). */
    private void withTheAuditLogRefusingWrites(Runnable body) throws SQLException {
        String app = ConfigProvider.getConfig().getValue("quarkus.datasource.username", String.class);
        try (Connection c = flyway.getConfiguration().getDataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("REVOKE INSERT ON audit_log FROM " + app);
            try {
                body.run();
            } finally {
                s.execute("GRANT INSERT ON audit_log TO " + app);
            }
        }
    }

    @Test
    @Order(40)
    void whileItRunsItCanBeRenamedButNotResized() {
        as("alice").contentType("application/json").body("{\"vcpus\":2}").when().patch("/api/v1/vms/" + id)
                .then().statusCode(409).body("detail", containsString("Paused"));
        as("alice").contentType("application/merge-patch+json").body("{\"name\":\"alice's renamed box\"}")
                .when().patch("/api/v1/vms/" + id)
                .then().statusCode(200).body("name", equalTo("alice's renamed box")).body("state", equalTo("Paused"));
    }

    @Test
    @Order(50)
    void whileItRunsItsCountersAreStoredPlottedAndExportedToPrometheus() {
        as("alice").when().post("/api/v1/vms/" + id + "/resume").then().statusCode(200);
        String from = Instant.now().minusSeconds(120).toString();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        List<Float> memory = List.of();
        while (memory.size() < 3 && System.nanoTime() < deadline) {
            sleepBriefly();
            memory = as("alice").queryParam("from", from).queryParam("step", "1").when().get("/api/v1/vms/" + id + "/metrics")
                    .then().statusCode(200).extract().jsonPath()
                    .getList("series.find { it.name == 'memory.resident' }.points.avg", Float.class);
            memory = memory == null ? List.of() : memory;
        }
        assertThat(memory).as("the worker's resident memory, sampled every second").hasSizeGreaterThanOrEqualTo(3)
                .allSatisfy(m -> assertThat(m).isGreaterThan(64f * (1 << 20)));
        as("alice").queryParam("from", from).queryParam("step", "1").when().get("/api/v1/vms/" + id + "/metrics")
                .then().statusCode(200)
                .body("resolution", equalTo("sample"))
                .body("step", equalTo("PT1S"))
                .body("series.name", hasItems("cpu", "vcpu.0", "memory.resident", "disk.disk0.read-bytes",
                        "disk.disk0.write-bytes", "disk.disk0.read-ops", "disk.disk0.write-ops"))
                .body("series.find { it.name == 'cpu' }.unit", equalTo("cores"));
        as("bob").when().get("/api/v1/vms/" + id + "/metrics").then().statusCode(404);
        as("operator").when().get("/api/v1/hosts/" + localHost.id() + "/metrics").then().statusCode(200)
                .body("series.name", hasItems("cpu", "memory.used", "load.1", "storage.free"));

        // Prometheus scrapes without a token, like any exporter; gauges carry vm, host and owner.
        String scraped = given().when().get("/q/metrics").then().statusCode(200).extract().asString();
        assertThat(scraped).containsPattern("hypervise_vm_cpu_cores\\{[^}]*vm=\"" + id + "\"")
                .containsPattern("hypervise_vm_memory_resident_bytes\\{[^}]*owner=\"alice\"")
                .containsPattern("hypervise_vm_disk_write_bytes_per_second\\{[^}]*disk=\"disk0\"")
                .containsPattern("hypervise_host_cpu_cores\\{host=\"" + localHost.id() + "\"")
                .contains("hypervise_counters_samples_written_total", "http_server_requests_seconds_count");
        double resident = scraped.lines().filter(l -> l.startsWith("hypervise_vm_memory_resident_bytes{") && l.contains("vm=\"" + id + "\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElseThrow();
        assertThat(resident).as("the scraped resident memory").isGreaterThan(64.0 * (1 << 20));
        as("alice").when().post("/api/v1/vms/" + id + "/pause").then().statusCode(200);
    }

    @Test
    @Order(60)
    void savingReportsProgressAsItGoes() {
        as("alice").when().post("/api/v1/vms/" + id + "/resume").then().statusCode(200);
        String job = as("alice").when().post("/api/v1/vms/" + id + "/save").then().statusCode(202).extract().path("id");
        List<Integer> seen = new ArrayList<>();
        String state = "queued";
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (!state.equals("succeeded") && !state.equals("failed") && System.nanoTime() < deadline) {
            var j = as("alice").when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().jsonPath();
            state = j.getString("state");
            seen.add(j.getInt("progress"));
        }
        assertThat(state).isEqualTo("succeeded");
        assertThat(seen).as("progress observed while saving").isSorted().last().isEqualTo(100);
        assertThat(seen).as("progress observed while saving").anyMatch(p -> p > 0 && p < 100);
        as("alice").when().get("/api/v1/jobs?vm=" + id).then().statusCode(200)
                .body("items.kind", hasItem("vm-save")).body("items[0].id", equalTo(job));
        as("bob").when().get("/api/v1/jobs?vm=" + id).then().statusCode(200).body("total", equalTo(0));
        as("operator").when().get("/api/v1/jobs?state=succeeded&vm=" + id).then().statusCode(200)
                .body("items.kind", hasItems("vm-start", "vm-save"));
        as("alice").when().get("/api/v1/vms/" + id).then().statusCode(200).body("state", equalTo("Saved"));
    }

    @Test
    @Order(70)
    void offItTakesNewSettingsAndDeletingItDeletesItsDisk() throws SQLException {
        as("alice").when().post("/api/v1/vms/" + id + "/discard-saved-state").then().statusCode(200).body("state", equalTo("Off"));
        as("alice").contentType("application/json").body("{\"vcpus\":2,\"memoryMib\":384,\"profile\":\"legacy\"}")
                .when().patch("/api/v1/vms/" + id)
                .then().statusCode(200).body("vcpus", equalTo(2)).body("memoryMib", equalTo(384)).body("profile", equalTo("legacy"));
        as("operator").when().get("/api/v1/vms/" + id).then().statusCode(200).body("vcpus", equalTo(2));
        assertThat(engine.vms().status(id).definition().memoryMib()).isEqualTo(384);
        as("alice").contentType("application/json").body("{\"vcpus\":0}").when().patch("/api/v1/vms/" + id)
                .then().statusCode(400).body("violations[0].field", equalTo("vcpus"));

        withTheAuditLogRefusingWrites(() -> {
            as("alice").when().delete("/api/v1/vms/" + id).then().statusCode(503);
            as("alice").when().post("/api/v1/vms/" + id + "/start").then().statusCode(503);
        });
        as("alice").when().get("/api/v1/vms/" + id).then().statusCode(200).body("state", equalTo("Off"));
        assertThat(engine.vms().status(id).state()).isEqualTo(VmState.OFF);
        assertThat(disk).as("not deleted without a record of it").isRegularFile();

        as("alice").when().delete("/api/v1/vms/" + id).then().statusCode(204);
        as("alice").when().get("/api/v1/vms/" + id).then().statusCode(404);
        assertThat(disk).doesNotExist();
        assertThat(disk.getParent()).doesNotExist();
    }

    @Test
    @Order(80)
    void badRequestsAreRefusedNamingEachFieldAndChangeNothing() {
        long before = as("admin").when().get("/api/v1/vms").then().extract().jsonPath().getLong("total");
        as("alice").contentType("application/json")
                .body("{\"name\":\"\",\"vcpus\":0,\"memoryMib\":1,\"profile\":\"quantum\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"../../etc/passwd\"}}")
                .when().post("/api/v1/vms")
                .then().log().ifValidationFails().statusCode(400)
                .contentType("application/problem+json")
                .body("violations.field", hasItem("profile"));
        // Full definitions are for operators: self-service users create from templates.
        as("operator").contentType("application/json")
                .body("{\"name\":\"x\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"../../etc/passwd\"}}")
                .when().post("/api/v1/vms")
                .then().statusCode(400)
                .body("violations.find { it.field == 'boot.kernel' }.message", startsWith("must be inside the storage root"));
        as("alice").contentType("application/json").body("{\"name\":\"x\",\"vcpus\":\"many\"}")
                .when().post("/api/v1/vms").then().statusCode(400).contentType("application/problem+json");
        as("alice").contentType("application/json").body("{not json")
                .when().post("/api/v1/vms").then().statusCode(400).contentType("application/problem+json");
        as("alice").contentType("application/json").body("{\"template\":\"windows-11\"}")
                .when().post("/api/v1/vms").then().statusCode(400)
                .body("violations[0].field", equalTo("template"));
        as("alice").when().get("/api/v1/vms?size=100000").then().statusCode(400)
                .body("violations[0].field", equalTo("size"))
                .body("violations[0].message", startsWith("must be a whole number from 1 to 500"));
        as("alice").when().get("/api/v1/vms?state=Flying").then().statusCode(400).body("violations[0].field", equalTo("state"));
        long after = as("admin").when().get("/api/v1/vms").then().extract().jsonPath().getLong("total");
        assertThat(after).isEqualTo(before);
    }

    @AfterAll
    void removeThePolicy() {
        // (RestAssured has no port in @AfterAll of a @QuarkusTest: straight to the database.)
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById("alice-everything"));
    }

    @Test
    @Order(90)
    void everyChangeAndEveryRefusalOfItIsInTheAuditLogAndTheChainHolds() {
        var entries = as("auditor").queryParam("target", "vm:" + id).queryParam("size", 100)
                .when().get("/api/v1/audit").then().statusCode(200).extract().jsonPath();
        assertThat(entries.getList("items.action", String.class))
                .contains("vm.create", "vm.start", "vm.pause", "vm.reconfigure", "vm.save", "vm.discard-saved-state",
                        "vm.delete", "vm.resume");
        assertThat(entries.getList("items.findAll { it.action == 'vm.reconfigure' && it.outcome == 'SUCCEEDED' }.parameters",
                Map.class)).contains(Map.of("name", Map.of("from", "alice's box", "to", "alice's renamed box")));
        assertThat(entries.getList("items.findAll { it.action == 'vm.delete' && it.outcome == 'SUCCEEDED' }.parameters.deletedDisks", List.class))
                .containsExactly(List.of(disk.toString()));
        // bob asked for it and was told it does not exist; the log knows better.
        assertThat(entries.getList("items.findAll { it.actor == 'bob' }.action", String.class))
                .contains("vm.read", "vm.start", "vm.reconfigure");
        assertThat(entries.getList("items.findAll { it.actor == 'bob' }.outcome", String.class)).containsOnly("DENIED");
        assertThat(entries.getList("items.findAll { it.action == 'vm.resume' }.outcome", String.class)).contains("FAILED", "SUCCEEDED");
        assertThat(entries.getList("items.findAll { it.action == 'vm.create' }.outcome", String.class))
                .as("newest first").containsExactly("SUCCEEDED", "REQUESTED");
        assertThat(entries.getList("items.findAll { it.action == 'vm.create' }.actor", String.class)).containsOnly("alice");
        assertThat(entries.getList("items.findAll { it.action == 'vm.delete' }.outcome", String.class))
                .as("the refused delete left no trace; the real one its intent and outcome").containsExactly("SUCCEEDED", "REQUESTED");
        as("auditor").queryParam("actor", "auditor").queryParam("target", "/api/v1/vms/" + id + "/start")
                .when().get("/api/v1/audit").then().statusCode(200)
                .body("items[0].outcome", equalTo("DENIED"))
                .body("items[0].reason", startsWith("auditor has no role that may operate VMs"));
        as("auditor").when().get("/api/v1/audit/verify").then().statusCode(200).body("intact", equalTo(true));
    }

    /** Waits for a job to end; fails with its error if it failed. */
    static void awaitJob(String user, String job) {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            var state = as(user).when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().jsonPath();
            switch (state.getString("state")) {
                case "succeeded" -> {
                    return;
                }
                case "failed", "cancelled" -> throw new AssertionError("job " + job + " " + state.getString("state")
                        + ": " + state.getString("error"));
                default -> sleepBriefly();
            }
        }
        throw new AssertionError("job " + job + " did not end within 2 minutes");
    }

    private static void sleepBriefly() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private String serial() {
        return as("alice").when().get("/api/v1/vms/" + id + "/serial?lines=200").then().statusCode(200).extract().asString();
    }

    private void awaitSerial(String marker, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (serial().contains(marker)) {
                return;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("the guest did not print " + marker + " within " + timeout.toSeconds() + " s");
    }
}
