package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * vCPUs and memory added while a VM runs, within the maximums it was created with, seen from inside the guest
 * (tiny-linux brings what arrives online and prints "hv-cpus N" and "hv-memory MIB" when they change): one vCPU and
 * a 128 MiB DIMM added; beyond the maximum, off the step or below what it has is refused naming the field, the
 * guest running on unchanged; saved and restored, the guest still has them; started afresh, it boots with them;
 * Off, both are lowered; quotas and the largest VM a policy allows refuse a self-service user. One guest boots.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HotAddApiTest {

    private static final Pattern HV_MEMORY = Pattern.compile("hv-memory (\\d+)");
    private static final String POLICY = "hotadd-bob";

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    private final List<String> made = new ArrayList<>();

    @AfterAll
    void removeTheVmsAndThePolicy() {
        for (String vm : made) {
            if (engine.vms().find(vm).isPresent()) {
                if (engine.vms().status(vm).state() != VmState.OFF && engine.vms().status(vm).state() != VmState.SAVED) {
                    engine.vms().turnOff(vm);
                }
                vms.delete(Caller.host(), vm);
            }
        }
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById(POLICY));
    }

    @Test
    @Order(1)
    void roomToGrowIsCheckedAtCreationByField() {
        as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"too small","display":"none","vcpus":2,"maxVcpus":1}""")
                .when().post("/api/v1/vms").then().statusCode(400).body("violations[0].field", equalTo("maxVcpus"));
        as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"legacy room","display":"none","profile":"legacy","memoryMib":256,
                 "maxMemoryMib":512}""")
                .when().post("/api/v1/vms").then().statusCode(400).body("violations[0].field", equalTo("maxMemoryMib"))
                .body("violations[0].message", containsString("enlightened profile only"));
    }

    @Test
    @Order(2)
    void vcpusAndMemoryAddedWhileTheGuestRunsAreOnlineInsideAndStayThroughASaveAndAFreshStart() throws Exception {
        String vm = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"hot size","display":"none","vcpus":1,"maxVcpus":2,"memoryMib":256,
                 "maxMemoryMib":512}""")
                .when().post("/api/v1/vms").then().statusCode(201).body("vcpus", equalTo(1)).body("maxVcpus", equalTo(2))
                .body("memoryMib", equalTo(256)).body("maxMemoryMib", equalTo(512)).extract().path("id");
        made.add(vm);
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerial(vm, 0, "HYPERVISE-READY");
        assertThat(serial(vm)).contains("hv-cpus 1");
        int base = lastMemory(vm).orElseThrow();

        // Bad input first: refused naming the field; the guest runs on with what it had.
        vcpus(vm, "{\"vcpus\":3}").statusCode(400).body("violations[0].field", equalTo("vcpus"))
                .body("violations[0].message", containsString("maximum, 2"));
        vcpus(vm, "{}").statusCode(400).body("violations[0].field", equalTo("vcpus"));
        memory(vm, "{\"memoryMib\":640}").statusCode(400).body("violations[0].field", equalTo("memoryMib"))
                .body("violations[0].message", containsString("maximum, 512 MiB"));
        memory(vm, "{\"memoryMib\":300}").statusCode(400).body("violations[0].field", equalTo("memoryMib"))
                .body("violations[0].message", containsString("steps of 128 MiB"));
        memory(vm, "{\"memoryMib\":128}").statusCode(400).body("violations[0].field", equalTo("memoryMib"))
                .body("violations[0].message", containsString("not taken away while the VM runs"));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Running")).body("vcpus", equalTo(1))
                .body("memoryMib", equalTo(256));

        // A vCPU and a DIMM: the guest brings both online.
        int before = lines(vm);
        vcpus(vm, "{\"vcpus\":2}").statusCode(200).body("vcpus", equalTo(2)).body("state", equalTo("Running"));
        awaitSerial(vm, before, "hv-cpus 2");
        before = lines(vm);
        memory(vm, "{\"memoryMib\":384}").statusCode(200).body("memoryMib", equalTo(384));
        int grown = awaitMemory(vm, before, base + 120);
        assertThat(grown).as("MemTotal after a 128 MiB DIMM, from %d MiB", base).isBetween(base + 120, base + 128);

        // Saved and restored: the restored worker has the vCPU and the DIMM (or the state would not load), and
        // the guest goes on where it was, still with both vCPUs (none is taken away while it runs); it takes another DIMM.
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/save").then().statusCode(202).extract().path("id"));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Saved"));
        vcpus(vm, "{\"vcpus\":1}").statusCode(409);
        before = lines(vm);
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202).extract().path("id"));
        awaitSerial(vm, before, "hv-counter");
        assertThat(serial(vm).lines().skip(before)).as("the restored guest's own count, not a new boot")
                .noneMatch(l -> l.equals("HYPERVISE-READY"));
        vcpus(vm, "{\"vcpus\":1}").statusCode(400).body("violations[0].field", equalTo("vcpus"))
                .body("violations[0].message", containsString("not taken away while the VM runs"));
        before = lines(vm);
        memory(vm, "{\"memoryMib\":512}").statusCode(200).body("memoryMib", equalTo(512));
        awaitMemory(vm, before, grown + 120);
        assertThat(serial(vm).lines().skip(before)).as("the guest's vCPUs after the restore").noneMatch(l -> l.startsWith("hv-cpus"));

        // Inventory and engine agree, DIMMs and all.
        VmDefinition engineSide = engine.vms().status(vm).definition();
        assertThat(engineSide.vcpus()).isEqualTo(2);
        assertThat(engineSide.memoryMib()).isEqualTo(512);
        assertThat(engineSide.memoryDimmsMib()).containsExactly(128, 128);
        VmEntity row = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>findById(vm));
        assertThat(row.vcpus).isEqualTo(2);
        assertThat(row.memoryMib).isEqualTo(512);
        assertThat(row.memoryDimmsMib).containsExactly(128, 128);
        as("auditor").queryParam("action", "vm.vcpus").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("FAILED"));
        as("auditor").queryParam("action", "vm.memory").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("FAILED"));

        // Started afresh, it boots with both vCPUs and all its memory (the DIMMs on its worker's command line).
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        before = lines(vm);
        awaitJob(as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202).extract().path("id"));
        awaitSerial(vm, before, "HYPERVISE-READY");
        assertThat(serial(vm).lines().skip(before)).contains("hv-cpus 2");
        assertThat(lastMemory(vm).orElseThrow()).as("MemTotal at a fresh start with 256 MiB in DIMMs").isGreaterThan(base + 240);

        // Off, vCPUs and memory are set (lower too), and its memory becomes one block again.
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        memory(vm, "{\"memoryMib\":256}").statusCode(200).body("memoryMib", equalTo(256)).body("maxMemoryMib", equalTo(512));
        assertThat(engine.vms().status(vm).definition().memoryDimmsMib()).isEmpty();
        vcpus(vm, "{\"vcpus\":1}").statusCode(200).body("vcpus", equalTo(1));
        assertThat(engine.vms().status(vm).definition().vcpus()).isEqualTo(1);
    }

    @Test
    @Order(3)
    void quotasAndTheLargestVmAPolicyAllowsRefuseGrowth() {
        TestPolicies.ensureStubTemplate(engine);
        long usedVcpus = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("owner", "bob").stream()
                .mapToLong(v -> v.vcpus).sum());
        long usedMemory = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("owner", "bob").stream()
                .mapToLong(v -> v.memoryMib).sum());
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity p = new PolicyEntity();
            p.id = POLICY;
            p.name = "Growth within quota";
            p.description = "";
            p.precedence = 1;
            p.enforced = true;
            p.assignedUsers = new String[] {"bob"};
            p.hostGroups = new String[] {"default"};
            p.templates = new String[] {TestPolicies.STUB};
            p.actions = Arrays.stream(SelfServiceAction.values()).map(SelfServiceAction::id).toArray(String[]::new);
            p.maxVmVcpus = 2;
            p.maxVmMemoryMib = 512L;
            p.maxVcpus = (int) usedVcpus + 1;
            p.maxMemoryMib = usedMemory + 160;
            p.createdAt = Instant.now();
            p.updatedAt = p.createdAt;
            p.persist();
        });
        // The largest VM the policy allows caps the room to grow, as it caps the size.
        as("bob").contentType("application/json").body("""
                {"template":"stub","name":"too roomy","maxVcpus":4,"maxMemoryMib":1024}""")
                .when().post("/api/v1/vms").then().statusCode(403).body("detail", containsString("maxVcpus"))
                .body("detail", containsString("maxMemoryMib"));
        String vm = as("bob").contentType("application/json").body("""
                {"template":"stub","name":"room","maxVcpus":2,"maxMemoryMib":512}""")
                .when().post("/api/v1/vms").then().statusCode(201).body("memoryMib", equalTo(64)).extract().path("id");
        made.add(vm);

        vcpus(vm, "bob", "{\"vcpus\":2}").statusCode(403).body("detail", containsString("vCPU quota"));
        memory(vm, "bob", "{\"memoryMib\":256}").statusCode(403).body("detail", containsString("memory quota"));
        as("bob").when().get("/api/v1/vms/" + vm).then().body("vcpus", equalTo(1)).body("memoryMib", equalTo(64));
        memory(vm, "bob", "{\"memoryMib\":128}").statusCode(200).body("memoryMib", equalTo(128));
        as("auditor").queryParam("action", "vm.vcpus").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("DENIED"));
    }

    private static io.restassured.response.ValidatableResponse vcpus(String vm, String body) {
        return vcpus(vm, "admin", body);
    }

    private static io.restassured.response.ValidatableResponse vcpus(String vm, String user, String body) {
        return as(user).contentType("application/json").body(body).when().put("/api/v1/vms/" + vm + "/vcpus").then();
    }

    private static io.restassured.response.ValidatableResponse memory(String vm, String body) {
        return memory(vm, "admin", body);
    }

    private static io.restassured.response.ValidatableResponse memory(String vm, String user, String body) {
        return as(user).contentType("application/json").body(body).when().put("/api/v1/vms/" + vm + "/memory").then();
    }

    private static void awaitJob(String job) throws InterruptedException {
        for (int i = 0; i < 1200; i++) {
            String state = as("admin").when().get("/api/v1/jobs/" + job).then().statusCode(200).extract().path("state");
            if (state.equals("succeeded")) {
                return;
            }
            assertThat(state).as("job " + job).isNotEqualTo("failed");
            TimeUnit.MILLISECONDS.sleep(100);
        }
        throw new AssertionError("job " + job + " did not end within two minutes");
    }

    private static String serial(String vm) {
        return as("admin").when().get("/api/v1/vms/" + vm + "/serial?lines=10000").then().statusCode(200).extract().asString();
    }

    private static int lines(String vm) {
        return serial(vm).split("\n").length;
    }

    /** The guest's last "hv-memory" line: its MemTotal in MiB. */
    private static OptionalInt lastMemory(String vm) {
        OptionalInt last = OptionalInt.empty();
        for (String line : serial(vm).split("\n")) {
            Matcher m = HV_MEMORY.matcher(line);
            if (m.matches()) {
                last = OptionalInt.of(Integer.parseInt(m.group(1)));
            }
        }
        return last;
    }

    /** Waits for an "hv-memory" line after line {@code from} of at least {@code atLeast} MiB; returns it. */
    private static int awaitMemory(String vm, int from, int atLeast) throws InterruptedException {
        for (int i = 0; i < 400; i++) {
            String[] lines = serial(vm).split("\n");
            for (int k = Math.min(from, lines.length); k < lines.length; k++) {
                Matcher m = HV_MEMORY.matcher(lines[k]);
                if (m.matches() && Integer.parseInt(m.group(1)) >= atLeast) {
                    return Integer.parseInt(m.group(1));
                }
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " did not report " + atLeast + " MiB or more after line " + from
                + "; its serial console:\n" + serial(vm));
    }

    private static void awaitSerial(String vm, int from, String prefix) throws InterruptedException {
        for (int i = 0; i < 400; i++) {
            String[] lines = serial(vm).split("\n");
            for (int k = Math.min(from, lines.length); k < lines.length; k++) {
                if (lines[k].equals(prefix) || prefix.equals("hv-counter") && lines[k].startsWith("hv-counter ")) {
                    return;
                }
            }
            TimeUnit.MILLISECONDS.sleep(300);
        }
        throw new AssertionError("the guest of " + vm + " did not print '" + prefix + "' after line " + from
                + "; its serial console:\n" + serial(vm));
    }
}
