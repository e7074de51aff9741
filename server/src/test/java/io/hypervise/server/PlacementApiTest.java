package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.hamcrest.Matchers.equalTo;

import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.Engine;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.placement.HostFactsPublisher;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Placement on the real stack: this server's facts published to its row and read back, other hosts (rows made
 * here as their servers would leave them: lease live or expired, in maintenance or not, in another host group)
 * rated with their reasons, the administrators' settings validated and audited, maintenance mode refusing
 * creation, and a self-service policy's host groups choosing among hosts.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class PlacementApiTest {

    private static final long GIB = 1L << 30;
    private static final String GROUP_POLICY = "pl-gpu-only";

    @Inject
    HostFactsPublisher publisher;

    @Inject
    LocalHost localHost;

    @Inject
    AgroalDataSource db;

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @BeforeEach
    void aStubTemplate() throws Exception {
        TestPolicies.ensureStubTemplate(engine);
        ApiAccessTest.ensureIdleVm(engine, vms);
    }

    @AfterEach
    void removeTheOtherHostsThePolicyAndTheVms() throws SQLException {
        sql("UPDATE hosts SET maintenance = false WHERE id = '" + localHost.id() + "'");
        sql("UPDATE placement_settings SET goal = 'BALANCE', weight_cpu = 1, weight_memory = 1, weight_storage = 1");
        sql("DELETE FROM vms WHERE host_id LIKE 'pl-%'");
        sql("DELETE FROM hosts WHERE id LIKE 'pl-%'");
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById(GROUP_POLICY));
        List<String> made = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("name like 'pl-%'")
                .stream().map(vm -> vm.id).toList());
        made.forEach(id -> vms.delete(Caller.host(), id));
    }

    @Test
    void thisServerPublishesItsFactsAndEveryServerReadsThemBackFromTheDatabase() throws Exception {
        HostFactsPublisher.Facts facts = publisher.publish();
        assertThat(facts.vmMemoryBytes()).as("the host's memory less the 1 GiB it keeps")
                .isEqualTo(engine.host().memoryBytes() - GIB);
        assertThat(facts.storageBytes()).isPositive();
        JsonPath hosts = as("auditor").when().get("/api/v1/placement/hosts").then().statusCode(200).extract().jsonPath();
        Map<String, Object> me = hosts.getMap("items.find { it.id == '" + localHost.id() + "' }");
        assertThat(((Number) me.get("memoryBytes")).longValue()).isEqualTo(facts.vmMemoryBytes());
        assertThat(((Number) me.get("storageBytes")).longValue()).isEqualTo(facts.storageBytes());
        assertThat(((Number) me.get("storageFreeBytes")).longValue()).isEqualTo(facts.storageFreeBytes());
        assertThat(me.get("live")).isEqualTo(true);
        assertThat(Instant.parse((String) me.get("factsPublishedAt"))).isAfter(Instant.now().minusSeconds(60));
    }

    @Test
    void whatAHostHasCommittedIsWhatItsVmsWithAWorkerHold() throws Exception {
        host("pl-busy", "default", "1 minute", false, 8 * GIB);
        vmRow("pl-busy-running", "pl-busy", "RUNNING", 2, 512);
        vmRow("pl-busy-paused", "pl-busy", "PAUSED", 1, 256);
        vmRow("pl-busy-off", "pl-busy", "OFF", 4, 4096);
        vmRow("pl-busy-saved", "pl-busy", "SAVED", 8, 8192);
        JsonPath hosts = as("auditor").when().get("/api/v1/placement/hosts").then().statusCode(200).extract().jsonPath();
        Map<String, Object> busy = hosts.getMap("items.find { it.id == 'pl-busy' }");
        assertThat((Integer) busy.get("committedVcpus")).as("Off and Saved VMs hold no vCPUs").isEqualTo(3);
        assertThat(((Number) busy.get("committedMemoryBytes")).longValue()).as("nor memory").isEqualTo(768L << 20);
        assertThat((Integer) busy.get("vms")).isEqualTo(2);
    }

    @Test
    void aDatabaseThatRefusesThePublicationIsRetriedAndHoldsUpNoRequest() throws Exception {
        Instant before = publishedAt(localHost.id());
        try (Connection holder = db.getConnection()) {
            holder.setAutoCommit(false);
            try (PreparedStatement lock = holder.prepareStatement("SELECT 1 FROM hosts WHERE id = ? FOR UPDATE")) {
                lock.setString(1, localHost.id());
                lock.executeQuery().close();
            }
            // The publication waits for the row, and gives up after a publication period (2 s in tests).
            assertThatThrownBy(publisher::publish).isInstanceOf(SQLException.class).hasMessageContaining("cancel");
            // Requests read the hosts meanwhile: nothing waits for the publication.
            as("operator").when().get("/api/v1/placement/hosts").then().statusCode(200);
            holder.rollback();
        }
        publisher.publish();
        assertThat(publishedAt(localHost.id())).isAfter(before);
    }

    @Test
    void everyHostIsRatedWithItsReasonsLiveOrExpiredInMaintenanceOrNot() throws Exception {
        host("pl-roomy", "default", "10 minutes", false, 16 * GIB);
        host("pl-gone", "default", "-30 seconds", false, 16 * GIB);
        host("pl-resting", "default", "10 minutes", true, 16 * GIB);
        host("pl-small", "default", "10 minutes", false, GIB / 4);
        host("pl-gpu", "gpu", "10 minutes", false, 16 * GIB);
        JsonPath ratings = as("operator").contentType("application/json")
                .body("{\"vcpus\":2,\"memoryMib\":1024,\"diskMib\":2048}")
                .when().post("/api/v1/placement/ratings").then().statusCode(200)
                .body("demand", equalTo("2 vCPUs, 1024 MiB, 2048 MiB of local disk"))
                .body("settings.goal", equalTo("balance"))
                .extract().jsonPath();
        Map<String, Map<String, Object>> byHost = byHost(ratings);
        assertThat(byHost.get("pl-roomy").get("eligible")).isEqualTo(true);
        assertThat((Float) byHost.get("pl-roomy").get("stars")).isPositive();
        assertThat(reasons(byHost, "pl-roomy")).anySatisfy(r -> assertThat(r).contains("stars: ").contains("% free after placing"));
        assertThat(reasons(byHost, "pl-gone")).containsExactly("host lease expired: the host has not renewed it and may be down");
        assertThat(reasons(byHost, "pl-resting")).containsExactly("in maintenance mode");
        assertThat(reasons(byHost, "pl-small")).containsExactly("not enough memory: 256 MiB free, 1024 MiB needed");
        assertThat(byHost.get("pl-gpu").get("eligible")).isEqualTo(true);
        assertThat(byHost.get(localHost.id()).get("eligible")).isEqualTo(true);
        // Eligible hosts first, refused ones after.
        List<Boolean> order = ratings.getList("ratings.eligible");
        assertThat(order.indexOf(false)).isGreaterThan(order.lastIndexOf(true));

        // A host group and a switch narrow it down, each refusal saying why.
        byHost = byHost(as("admin").contentType("application/json")
                .body("{\"vcpus\":1,\"memoryMib\":256,\"hostGroup\":\"gpu\"}")
                .when().post("/api/v1/placement/ratings").then().statusCode(200).extract().jsonPath());
        assertThat(byHost.get("pl-gpu").get("eligible")).isEqualTo(true);
        assertThat(reasons(byHost, "pl-roomy")).containsExactly("host group 'default' is not allowed for this VM; allowed: gpu");
        byHost = byHost(as("admin").contentType("application/json")
                .body("{\"vcpus\":1,\"memoryMib\":256,\"switches\":[\"nowhere\"]}")
                .when().post("/api/v1/placement/ratings").then().statusCode(200).extract().jsonPath());
        assertThat(reasons(byHost, "pl-roomy")).containsExactly(
                "no virtual switch 'nowhere', which the VM's network adapters need");

        // Where could an existing VM go: not where it is.
        byHost = byHost(as("operator").when().get("/api/v1/placement/ratings/vms/idle").then().statusCode(200)
                .body("vm", equalTo("idle")).extract().jsonPath());
        assertThat(reasons(byHost, localHost.id())).containsExactly("the VM is already there (the host it moves from)");
        assertThat(byHost.get("pl-roomy").get("eligible")).isEqualTo(true);
    }

    @Test
    void theWhatIfIsForOperatorsAndAdministratorsAndNamesEachBadField() {
        String vm = "{\"vcpus\":1,\"memoryMib\":64}";
        as("auditor").contentType("application/json").body(vm).when().post("/api/v1/placement/ratings").then().statusCode(403);
        as("alice").contentType("application/json").body(vm).when().post("/api/v1/placement/ratings").then().statusCode(403);
        as("alice").when().get("/api/v1/placement/ratings/vms/idle").then().statusCode(403);
        as("operator").when().get("/api/v1/placement/ratings/vms/no-such-vm").then().statusCode(404);
        List<String> fields = as("operator").contentType("application/json")
                .body("{\"vcpus\":0,\"diskMib\":-1,\"switches\":[\"Bad Switch\"],\"hostGroup\":\"../x\"}")
                .when().post("/api/v1/placement/ratings").then().statusCode(400).extract().path("violations.field");
        assertThat(fields).containsExactly("vcpus", "memoryMib", "diskMib", "switches[0]", "hostGroup");
    }

    @Test
    void administratorsSetTheGoalAndWeightsWhichAreValidatedAuditedAndUsed() throws Exception {
        as("operator").when().get("/api/v1/placement/settings").then().statusCode(200)
                .body("goal", equalTo("balance")).body("weights.cpu", equalTo(1.0f));
        String consolidate = "{\"goal\":\"consolidate\",\"weights\":{\"cpu\":0,\"memory\":2,\"storage\":0.5}}";
        as("operator").contentType("application/json").body(consolidate).when().put("/api/v1/placement/settings")
                .then().statusCode(403);

        assertThat(violations("{\"goal\":\"fastest\",\"weights\":{\"cpu\":-1,\"memory\":101,\"storage\":100.5}}"))
                .containsExactly("goal: must be balance or consolidate; was 'fastest'",
                        "weights.cpu: must be a number from 0 to 100; was -1.0",
                        "weights.memory: must be a number from 0 to 100; was 101.0",
                        "weights.storage: must be a number from 0 to 100; was 100.5");
        assertThat(violations("{\"goal\":\"balance\",\"weights\":{\"cpu\":0,\"memory\":0,\"storage\":0}}"))
                .containsExactly("weights: at least one of cpu, memory and storage must be above 0; all three are 0");
        assertThat(violations("{\"weights\":{\"cpu\":1}}"))
                .containsExactly("goal: is required: balance or consolidate", "weights.memory: is required: a number from 0 to 100",
                        "weights.storage: is required: a number from 0 to 100");
        as("operator").when().get("/api/v1/placement/settings").then().body("goal", equalTo("balance"));

        as("admin").contentType("application/json").body(consolidate).when().put("/api/v1/placement/settings")
                .then().statusCode(200).body("goal", equalTo("consolidate")).body("weights.memory", equalTo(2.0f))
                .body("updatedBy", equalTo("admin"));
        as("operator").contentType("application/json").body("{\"vcpus\":1,\"memoryMib\":64}")
                .when().post("/api/v1/placement/ratings").then().statusCode(200)
                .body("settings.goal", equalTo("consolidate"))
                .body("ratings[0].reasons[0]", org.hamcrest.Matchers.containsString(
                        "weighted CPU 0, memory 2, storage 0.5; consolidate favours the fullest host that still fits"));
        assertThat(lastAudit("placement.settings")).isEqualTo("admin SUCCEEDED placement");
    }

    @Test
    void aHostInMaintenanceTakesNoNewVmAndSaysWhyUntilItIsTakenOut() throws Exception {
        String me = localHost.id();
        as("operator").when().put("/api/v1/hosts/" + me + "/maintenance").then().statusCode(403);
        as("admin").when().put("/api/v1/hosts/no-such-host/maintenance").then().statusCode(404);
        as("admin").when().put("/api/v1/hosts/" + me + "/maintenance").then().statusCode(200)
                .body("maintenance", equalTo(true));
        assertThat(lastAudit("host.maintenance")).isEqualTo("admin SUCCEEDED host:" + me);

        as("admin").contentType("application/json").body("{\"template\":\"stub\",\"name\":\"pl-refused\"}")
                .when().post("/api/v1/vms").then().statusCode(409)
                .body("detail", equalTo("host '" + me + "' cannot take this VM: in maintenance mode"))
                .body("reasons", equalTo(List.of("in maintenance mode")))
                .body("host", equalTo(me));
        assertThat(lastAudit("vm.create")).startsWith("admin DENIED ");
        as("admin").when().get("/api/v1/vms?name=pl-refused").then().statusCode(200).body("total", equalTo(0));

        as("admin").when().delete("/api/v1/hosts/" + me + "/maintenance").then().statusCode(200)
                .body("maintenance", equalTo(false));
        as("admin").contentType("application/json").body("{\"template\":\"stub\",\"name\":\"pl-taken\"}")
                .when().post("/api/v1/vms").then().statusCode(201);
    }

    @Test
    void aSelfServicePolicysHostGroupsChooseAmongHosts() throws Exception {
        host("pl-gpu", "gpu", "10 minutes", false, 16 * GIB);
        QuarkusTransaction.requiringNew().run(() -> {
            PolicyEntity p = new PolicyEntity();
            p.id = GROUP_POLICY;
            p.name = "GPU hosts only";
            p.description = "";
            p.precedence = 1;
            p.enforced = true;
            p.assignedUsers = new String[] {"bob"};
            p.hostGroups = new String[] {"gpu"};
            p.templates = new String[] {TestPolicies.STUB};
            p.actions = Arrays.stream(SelfServiceAction.values()).map(SelfServiceAction::id).toArray(String[]::new);
            p.createdAt = Instant.now();
            p.updatedAt = p.createdAt;
            p.persist();
        });
        String reason = "host group 'default' is not allowed for this VM; allowed: gpu";
        as("bob").contentType("application/json").body("{\"template\":\"stub\",\"name\":\"pl-bobs\"}")
                .when().post("/api/v1/vms").then().statusCode(409)
                .body("reasons", equalTo(List.of(reason)));
        assertThat(lastAudit("vm.create")).startsWith("bob DENIED vm:");
        // The what-if agrees: the host group's host could take it, this one cannot.
        Map<String, Map<String, Object>> byHost = byHost(as("operator").contentType("application/json")
                .body("{\"vcpus\":1,\"memoryMib\":64,\"hostGroup\":\"gpu\"}").when().post("/api/v1/placement/ratings")
                .then().statusCode(200).extract().jsonPath());
        assertThat(byHost.get("pl-gpu").get("eligible")).isEqualTo(true);
        assertThat(reasons(byHost, localHost.id())).containsExactly(reason);
    }

    // helpers

    private List<String> violations(String body) {
        List<Map<String, String>> found = as("admin").contentType("application/json").body(body)
                .when().put("/api/v1/placement/settings").then().statusCode(400).extract().path("violations");
        return found.stream().map(v -> v.get("field") + ": " + v.get("message")).toList();
    }

    private static Map<String, Map<String, Object>> byHost(JsonPath ratings) {
        List<Map<String, Object>> all = ratings.getList("ratings");
        return all.stream().collect(Collectors.toMap(r -> (String) r.get("hostId"), r -> r));
    }

    @SuppressWarnings("unchecked")
    private static List<String> reasons(Map<String, Map<String, Object>> byHost, String host) {
        assertThat(byHost).containsKey(host);
        return (List<String>) byHost.get(host).get("reasons");
    }

    /** A host's row as its server would leave it: a lease running {@code in} from the database's now, facts published. */
    private void host(String id, String group, String in, boolean maintenance, long vmMemory) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement("""
                INSERT INTO hosts (id, name, hostname, accelerator, cpus, memory_bytes, qemu_version, epoch, host_group,
                                   lease_expires_at, lease_renewed_at, address, maintenance, vm_memory_bytes,
                                   storage_bytes, storage_free_bytes, cpu_load_cores, facts_published_at)
                VALUES (?, ?, ?, 'KVM', 8, ?, '7.2.0', 1, ?, clock_timestamp() + CAST(? AS interval),
                        clock_timestamp(), 'http://192.0.2.1:8080', ?, ?, 107374182400, 53687091200, 0.5,
                        clock_timestamp())""")) {
            s.setString(1, id);
            s.setString(2, id);
            s.setString(3, id + ".example");
            s.setLong(4, vmMemory + GIB);
            s.setString(5, group);
            s.setString(6, in);
            s.setBoolean(7, maintenance);
            s.setLong(8, vmMemory);
            s.executeUpdate();
        }
    }

    /** A VM's row as another host's server would leave it, in the state given. */
    private void vmRow(String id, String host, String state, int vcpus, int memoryMib) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement("""
                INSERT INTO vms (id, host_id, name, owner, vcpus, memory_mib, profile, display, boot_kind, boot_image, state)
                VALUES (?, ?, ?, 'operator', ?, ?, 'ENLIGHTENED', 'NONE', 'DISK', NULL, ?)""")) {
            s.setString(1, id);
            s.setString(2, host);
            s.setString(3, id);
            s.setInt(4, vcpus);
            s.setInt(5, memoryMib);
            s.setString(6, state);
            s.executeUpdate();
        }
    }

    private Instant publishedAt(String host) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT facts_published_at FROM hosts WHERE id = ?")) {
            s.setString(1, host);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
            }
        }
    }

    /** "actor OUTCOME target" of the newest audit entry of the action. */
    private String lastAudit(String action) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT actor, outcome, target FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1")) {
            s.setString(1, action);
            try (ResultSet rs = s.executeQuery()) {
                assertThat(rs.next()).as("an audit entry for " + action).isTrue();
                return rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3);
            }
        }
    }

    private void sql(String sql) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.executeUpdate();
        }
    }
}
