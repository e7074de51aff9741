package io.hypervise.server.policy;

import static io.hypervise.server.testing.Tokens.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasItems;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.engine.Engine;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.testing.Tokens;
import io.hypervise.server.inventory.VmEntity;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Self-service policies through the API, against real Keycloak tokens and real PostgreSQL: who may
 * write them, what they allow, quotas that hold under fifty requests at once, a dry run that agrees
 * with the real outcome, and leases that end. VMs here are defined, never booted: policies decide
 * before anything runs. Each test writes its own policies for its own users and removes them.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PolicyApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    @Inject
    Engine engine;

    @TestHTTPResource("/")
    URL base;

    @BeforeAll
    void aTemplateReadyAtOnceAndNoPolicyOrVmOfAliceOrBob() {
        TestPolicies.ensureStubTemplate(engine);
        // Other test classes may share this server and database: start from no policy and no VMs of theirs.
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteAll());
        for (String owner : List.of("alice", "bob")) {
            QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("owner", owner)).forEach(vm -> {
                if (engine.vms().status(vm.id).state() != io.hypervise.engine.vm.VmState.OFF) {
                    engine.vms().turnOff(vm.id);
                }
                vms.delete(io.hypervise.server.access.Caller.host(), vm.id);
            });
        }
    }

    @Inject
    io.hypervise.server.vm.VmService vms;

    @Test
    void onlyAdministratorsWritePoliciesAndEveryMistakeIsNamed() {
        String policy = policy("writing", "{\"assignedUsers\":[\"nobody\"],\"maxVms\":1}");
        as("operator").contentType("application/json").body(policy).when().post("/api/v1/policies").then().statusCode(403);
        as("alice").when().get("/api/v1/policies").then().statusCode(403);
        as("admin").contentType("application/json")
                .body("{\"id\":\"Bad Id\",\"name\":\"\",\"precedence\":0,\"actions\":[\"fly\"],\"maxVms\":-1,\"leaseDays\":0}")
                .when().post("/api/v1/policies").then().statusCode(400)
                .body("violations.field", hasItems("id", "name", "precedence", "actions[0]", "maxVms", "leaseDays"));

        as("admin").contentType("application/json").body(policy).when().post("/api/v1/policies").then().statusCode(201)
                .body("maxVms", equalTo(1)).body("templates", nullValue());
        as("admin").contentType("application/json").body(policy).when().post("/api/v1/policies").then().statusCode(400)
                .body("violations[0].field", equalTo("id"));
        as("admin").contentType("application/json").body(policy("writing", "{\"maxVms\":4}"))
                .when().put("/api/v1/policies/writing").then().statusCode(200).body("maxVms", equalTo(4));
        as("admin").when().get("/api/v1/policies").then().statusCode(200).body("items.id", hasItem("writing"));
        as("admin").when().delete("/api/v1/policies/writing").then().statusCode(204);
        as("admin").when().get("/api/v1/policies/writing").then().statusCode(404);
        as("auditor").queryParam("target", "policy:writing").when().get("/api/v1/audit").then().statusCode(200)
                .body("items.action", hasItems("policy.create", "policy.update", "policy.delete"));
    }

    @Test
    void withoutAPolicyASelfServiceUserMayCreateNothingAndIsToldWhy() {
        as("bob").contentType("application/json").body("{\"template\":\"stub\"}").when().post("/api/v1/vms")
                .then().statusCode(403)
                .body("reasons", equalTo(List.of("no self-service policy applies to bob; an administrator assigns"
                        + " policies to users and groups")));
        as("bob").when().get("/api/v1/me/policy").then().statusCode(200)
                .body("governed", equalTo(true)).body("policies", equalTo(List.of()));
        as("operator").when().get("/api/v1/me/policy").then().statusCode(200).body("governed", equalTo(false));
    }

    @Test
    void fiftySimultaneousCreationsAtTheQuotaBoundaryCreateExactlyWhatTheQuotaAllows() throws Exception {
        createPolicy("race", "{\"assignedUsers\":[\"alice\"],\"templates\":[\"stub\"],\"hostGroups\":[\"default\"],"
                + "\"actions\":[\"delete\"],\"maxVms\":3}");
        String token = Tokens.accessToken("alice");
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        try (ExecutorService pool = Executors.newFixedThreadPool(50)) {
            for (int round = 1; round <= 5; round++) {
                // Two already there, so the boundary is one VM away: exactly one of fifty gets it.
                int existing = round % 2 == 0 ? 2 : 0;
                for (int i = 0; i < existing; i++) {
                    as("alice").contentType("application/json").body("{\"template\":\"stub\"}").when().post("/api/v1/vms")
                            .then().statusCode(201);
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Integer>> answers = new ArrayList<>();
                for (int i = 0; i < 50; i++) {
                    answers.add(pool.submit(() -> {
                        go.await();
                        return http.send(HttpRequest.newBuilder(URI.create(base + "api/v1/vms"))
                                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString("{\"template\":\"stub\"}")).build(),
                                HttpResponse.BodyHandlers.discarding()).statusCode();
                    }));
                }
                go.countDown();
                List<Integer> statuses = new ArrayList<>();
                for (Future<Integer> f : answers) {
                    statuses.add(f.get());
                }
                assertThat(statuses).as("round %d", round).containsOnly(201, 403);
                assertThat(statuses.stream().filter(s -> s == 201).count()).as("created in round %d", round)
                        .isEqualTo(3 - existing);
                assertThat(alicesVms()).as("alice's VMs after round %d", round).hasSize(3);
                for (String id : alicesVms()) {
                    as("alice").when().delete("/api/v1/vms/" + id).then().statusCode(204);
                }
            }
        } finally {
            deletePolicy("race");
        }
    }

    @Test
    void theDryRunAgreesWithTheRealOutcome() {
        createPolicy("dry", "{\"assignedUsers\":[\"alice\"],\"templates\":[\"stub\"],\"hostGroups\":[\"default\"],"
                + "\"actions\":[\"delete\",\"reconfigure\"],\"maxVms\":4,\"maxVcpus\":5,\"maxMemoryMib\":1024,"
                + "\"maxDiskMib\":2048,\"maxVmVcpus\":2,\"maxVmMemoryMib\":512,\"maxVmDiskMib\":1024}");
        try {
            List<String> bodies = new ArrayList<>();
            for (int vcpus : new int[] {1, 2, 3}) {
                for (int memory : new int[] {64, 512, 600}) {
                    for (String disks : new String[] {"[]", "[{\"sizeMib\":512,\"format\":\"qcow2\"}]",
                            "[{\"sizeMib\":1500,\"format\":\"raw\"}]"}) {
                        bodies.add("{\"template\":\"stub\",\"vcpus\":" + vcpus + ",\"memoryMib\":" + memory
                                + ",\"disks\":" + disks + "}");
                    }
                }
            }
            bodies.add("{\"template\":\"tiny-linux\"}");
            bodies.add("{\"name\":\"x\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"stub-kernel\"}}");
            bodies.add("{\"template\":\"stub\",\"disks\":[{\"path\":\"stub-kernel\",\"format\":\"raw\",\"readOnly\":true}]}");
            Map<String, Integer> outcomes = new LinkedHashMap<>();
            for (String body : bodies) {
                JsonPath dry = as("alice").contentType("application/json").body(body).when().post("/api/v1/vms/check")
                        .then().statusCode(200).extract().jsonPath();
                var real = as("alice").contentType("application/json").body(body).when().post("/api/v1/vms")
                        .then().extract();
                outcomes.merge(real.statusCode() == 201 ? "created" : "refused", 1, Integer::sum);
                if (dry.getBoolean("allowed")) {
                    assertThat(real.statusCode()).as("%s: the dry run said allowed; %s", body, real.asString()).isEqualTo(201);
                } else {
                    assertThat(real.statusCode()).as("%s: the dry run said no", body).isEqualTo(403);
                    assertThat(real.jsonPath().getList("reasons")).as(body).isEqualTo(dry.getList("reasons"));
                }
                if (alicesVms().size() >= 3) {
                    // Keep usage moving: near the quotas, but not stuck at them for the rest of the table.
                    alicesVms().forEach(id -> as("alice").when().delete("/api/v1/vms/" + id).then().statusCode(204));
                }
            }
            assertThat(bodies).hasSizeGreaterThanOrEqualTo(30);
            assertThat(outcomes).as("the table has both outcomes").containsKeys("created", "refused");
            as("admin").contentType("application/json").body("{\"template\":\"stub\",\"vcpus\":8}")
                    .when().post("/api/v1/vms/check").then().statusCode(200)
                    .body("allowed", equalTo(true)).body("governedByPolicies", equalTo(false));
        } finally {
            alicesVms().forEach(id -> as("alice").when().delete("/api/v1/vms/" + id));
            deletePolicy("dry");
        }
    }

    @Test
    void actionsAndResizingFollowThePolicyToo() {
        createPolicy("actions", "{\"assignedUsers\":[\"alice\"],\"templates\":[\"stub\"],\"hostGroups\":[\"default\"],"
                + "\"actions\":[\"reconfigure\",\"pause\"],\"maxVcpus\":2}");
        String id = as("alice").contentType("application/json").body("{\"template\":\"stub\"}").when().post("/api/v1/vms")
                .then().statusCode(201).extract().path("id");
        try {
            as("alice").when().delete("/api/v1/vms/" + id).then().statusCode(403)
                    .body("reasons[0]", startsWith("the action 'delete' is not allowed for alice; allowed: pause, reconfigure"));
            as("alice").when().post("/api/v1/vms/" + id + "/start").then().statusCode(403);
            as("alice").contentType("application/json").body("{\"vcpus\":3}").when().patch("/api/v1/vms/" + id)
                    .then().statusCode(403).body("reasons[0]", startsWith("vCPU quota: 0 of 2 vCPUs in use"));
            as("alice").contentType("application/json").body("{\"vcpus\":2}").when().patch("/api/v1/vms/" + id)
                    .then().statusCode(200).body("vcpus", equalTo(2));
            as("auditor").queryParam("target", "vm:" + id).queryParam("outcome", "DENIED").when().get("/api/v1/audit")
                    .then().statusCode(200).body("items.action", hasItems("vm.delete", "vm.start", "vm.reconfigure"));
        } finally {
            as("admin").when().delete("/api/v1/vms/" + id).then().statusCode(204);
            deletePolicy("actions");
        }
    }

    @Test
    void aPolicysResourceControlsComeWithEveryVmItsUsersCreateAndOnlyAdministratorsChangeThem() {
        as("admin").contentType("application/json").body(policy("bad-controls",
                "{\"assignedUsers\":[\"alice\"],\"vmResources\":{\"cpuCapPercent\":0,\"memoryReservationMib\":64,"
                        + "\"networkReceiveBitsPerSecond\":1000}}"))
                .when().post("/api/v1/policies").then().statusCode(400)
                .body("violations.field", hasItems("vmResources.cpuCapPercent", "vmResources.memoryReservationMib",
                        "vmResources.networkReceiveBitsPerSecond"));
        createPolicy("controls", "{\"assignedUsers\":[\"alice\"],\"templates\":[\"stub\"],\"hostGroups\":[\"default\"],"
                + "\"actions\":[\"reconfigure\"],\"vmResources\":{\"diskIops\":200,\"diskBytesPerSecond\":10485760,"
                + "\"networkReceiveBitsPerSecond\":8000000}}");
        as("admin").when().get("/api/v1/policies/controls").then().statusCode(200).body("vmResources.diskIops", equalTo(200))
                .body("vmResources.networkReceiveBitsPerSecond", equalTo(8000000));
        String id = as("alice").contentType("application/json").body("{\"template\":\"stub\"}").when().post("/api/v1/vms")
                .then().statusCode(201).body("resources.diskIops", equalTo(200))
                .body("resources.diskBytesPerSecond", equalTo(10485760))
                .body("resources.networkReceiveBitsPerSecond", equalTo(8000000)).extract().path("id");
        try {
            // Her own VM, but not her controls: neither lifted nor asked for at creation.
            as("alice").contentType("application/json").body("{}").when().put("/api/v1/vms/" + id + "/resources")
                    .then().statusCode(403);
            as("alice").contentType("application/json").body("{\"template\":\"stub\",\"resources\":{\"diskIops\":5000}}")
                    .when().post("/api/v1/vms").then().statusCode(403);
            as("admin").contentType("application/json").body("{}").when().put("/api/v1/vms/" + id + "/resources")
                    .then().statusCode(200).body("resources.diskIops", nullValue());
            as("auditor").queryParam("action", "vm.create").queryParam("outcome", "DENIED").when().get("/api/v1/audit")
                    .then().statusCode(200).body("items.reason", hasItem(startsWith("resource controls are the administrators'")));
        } finally {
            as("admin").when().delete("/api/v1/vms/" + id).then().statusCode(204);
            deletePolicy("controls");
        }
    }

    @Test
    void quotaUseIsShownPerUserAndPerGroupAgainstTheirQuotas() {
        createPolicy("use", "{\"assignedGroups\":[\"engineering\"],\"templates\":[\"stub\"],\"hostGroups\":[\"default\"],"
                + "\"actions\":[\"delete\"],\"maxVms\":4,\"maxMemoryMib\":1024}");
        List<String> ids = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                ids.add(as("alice").contentType("application/json").body("{\"template\":\"stub\",\"memoryMib\":96}")
                        .when().post("/api/v1/vms").then().statusCode(201).extract().path("id"));
            }
            JsonPath use = as("admin").when().get("/api/v1/quota-use").then().statusCode(200).extract().jsonPath();
            assertThat(use.getMap("users.find { it.user == 'alice' }")).containsEntry("groups", List.of("engineering"));
            assertThat(use.getMap("users.find { it.user == 'alice' }.usage")).containsEntry("vms", 2).containsEntry("memoryMib", 192);
            assertThat(use.getMap("users.find { it.user == 'alice' }.limits")).containsEntry("maxVms", 4)
                    .containsEntry("maxMemoryMib", 1024).containsEntry("policies", List.of("use"));
            assertThat(use.getMap("groups.find { it.group == 'engineering' }")).containsEntry("users", 1)
                    .containsEntry("policies", List.of("use"));
            assertThat(use.getMap("groups.find { it.group == 'engineering' }.usage")).containsEntry("vms", 2)
                    .containsEntry("vcpus", 2);
            as("operator").when().get("/api/v1/quota-use").then().statusCode(403);
        } finally {
            ids.forEach(id -> as("alice").when().delete("/api/v1/vms/" + id).then().statusCode(204));
            deletePolicy("use");
        }
    }

    @Test
    void aLeaseWarnsThenStopsThenDeletesAndAnAdministratorCanExtendIt() {
        createPolicy("lease", "{\"assignedUsers\":[\"bob\"],\"templates\":[\"stub\"],\"hostGroups\":[\"default\"],"
                + "\"actions\":[\"start\"],\"leaseDays\":2}");
        try {
            Instant created = Instant.now();
            String kept = as("bob").contentType("application/json").body("{\"template\":\"stub\"}").when()
                    .post("/api/v1/vms").then().statusCode(201).extract().path("id");
            String expires = as("bob").when().get("/api/v1/vms/" + kept).then().extract().path("lease.expiresAt");
            assertThat(Duration.between(created, Instant.parse(expires))).isBetween(Duration.ofDays(2).minusMinutes(1),
                    Duration.ofDays(2).plusMinutes(1));
            Instant end = Instant.parse(expires);

            assertThat(countLeaseSteps(end.minus(Duration.ofDays(2)))).isZero();
            assertThat(countLeaseSteps(end.minus(Duration.ofHours(12)))).as("the warning").isEqualTo(1);
            assertThat(countLeaseSteps(end.minus(Duration.ofHours(11)))).as("warned once only").isZero();
            assertThat(countLeaseSteps(end.plusSeconds(60))).as("the stop").isEqualTo(1);
            as("bob").when().post("/api/v1/vms/" + kept + "/start").then().statusCode(403)
                    .body("reasons[0]", startsWith("the lease of VM"));

            as("operator").contentType("application/json").body("{\"expiresAt\":\"2099-01-01T00:00:00Z\"}")
                    .when().put("/api/v1/vms/" + kept + "/lease").then().statusCode(403);
            as("admin").contentType("application/json").body("{\"expiresAt\":\"2099-01-01T00:00:00Z\"}")
                    .when().put("/api/v1/vms/" + kept + "/lease").then().statusCode(200)
                    .body("lease.expiresAt", equalTo("2099-01-01T00:00:00Z"))
                    .body("lease.warnedAt", nullValue()).body("lease.stoppedAt", nullValue());

            String dropped = as("bob").contentType("application/json").body("{\"template\":\"stub\"}").when()
                    .post("/api/v1/vms").then().statusCode(201).extract().path("id");
            assertThat(countLeaseSteps(end.plus(Duration.ofDays(8)))).as("warn, stop and delete the second VM")
                    .isEqualTo(3);
            as("bob").when().get("/api/v1/vms/" + dropped).then().statusCode(404);
            as("bob").when().get("/api/v1/vms/" + kept).then().statusCode(200);
            as("auditor").queryParam("target", "vm:" + dropped).when().get("/api/v1/audit").then().statusCode(200)
                    .body("items.action", hasItems("vm.lease.warn", "vm.lease.stop", "vm.delete", "vm.lease.delete"));
            as("admin").when().delete("/api/v1/vms/" + kept).then().statusCode(204);
        } finally {
            deletePolicy("lease");
        }
    }

    @Inject
    LeaseKeeper leases;

    private int countLeaseSteps(Instant now) {
        return leases.sweep(now);
    }

    private static List<String> alicesVms() {
        return QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("owner", "alice").stream()
                .map(vm -> vm.id).toList());
    }

    private static String policy(String id, String settings) {
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> body = JSON.readValue(settings, Map.class);
            body.put("id", id);
            body.put("name", "Policy " + id);
            body.put("precedence", 10);
            return JSON.writeValueAsString(body);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static void createPolicy(String id, String settings) {
        as("admin").contentType("application/json").body(policy(id, settings)).when().post("/api/v1/policies")
                .then().statusCode(201);
    }

    private static void deletePolicy(String id) {
        as("admin").when().delete("/api/v1/policies/" + id).then().statusCode(204);
    }
}
