package io.hypervise.server;

import io.hypervise.engine.storage.ImageFormat;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.server.library.ItemKind;
import io.hypervise.server.library.LibraryItemEntity;
import io.hypervise.server.library.Visibility;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.vm.VmRequests;
import io.hypervise.server.vm.VmService;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.jobs.JobEntity;
import io.hypervise.server.network.SwitchRequest;
import io.hypervise.server.network.Switches;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.hypervise.server.testing.Tokens;
import io.quarkus.arc.Arc;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every API endpoint against every kind of caller, with real tokens from the real Keycloak: the
 * outcome each role must get, written out as a table.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class ApiAccessTest {

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @Inject
    LocalHost localHost;

    @Inject
    Switches switches;

    @BeforeEach
    void defineAVm() throws Exception {
        ensureIdleVm(engine, vms);
        TestPolicies.ensureStubTemplate(engine);
        TestPolicies.allowEverything("matrix", "alice", "bob");
    }

    /** An Off VM named 'idle', owned by the host, that tests can aim at without booting anything. */
    static void ensureIdleVm(Engine engine, VmService vms) throws Exception {
        if (engine.vms().list().stream().noneMatch(s -> s.id().equals("idle"))) {
            Path kernel = Files.writeString(engine.storage().path().resolve("kernel"), "never booted here");
            vms.create(Caller.host(), new VmRequests.NewVm(new VmDefinition("idle", "Idle VM", 2, 512,
                    DeviceProfile.LEGACY, List.of(), List.of(), new BootSource.Kernel(kernel, null, ""), Display.NONE),
                    Map.of(), null));
        }
    }

    @AfterAll
    static void removeThePolicyTheSelfServiceVmsAndTheSwitches() {
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById("matrix"));
        // The matrix gives alice and bob VMs of their own; left behind, they would count against the
        // quotas of policies that later test classes give them.
        List<String> selfService = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>list("owner in ?1",
                List.of("alice", "bob")).stream().map(vm -> vm.id).toList());
        VmService vms = Arc.container().instance(VmService.class).get();
        selfService.forEach(id -> vms.delete(Caller.host(), id));
        Switches switches = Arc.container().instance(Switches.class).get();
        switches.all().forEach(s -> switches.delete(s.id, Caller.host()));
    }

    static RequestSpecification as(String user) {
        return Tokens.as(user);
    }

    private static final List<String> CALLERS = List.of("anonymous", "admin", "operator", "auditor", "alice", "bob");

    /**
     * Every endpoint, and the status each caller gets: anonymous, admin, operator, auditor, alice, bob.
     * In paths, {idle} is an Off VM the host owns, {other} a fresh one the host owns (to delete),
     * {own} a fresh VM the caller owns, {job} a job of the host's, {ownjob} one of the caller's, and
     * {host} this host. 409 means allowed, but not in the VM's state (pausing an Off VM).
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
            "GET    | /api/v1/host                 |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            // The host's block devices (pass-through): the administrators' alone.
            "GET    | /api/v1/host/block-devices   |                                 | 401 | 200 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/hosts                |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            "GET    | /api/v1/hosts/{host}         |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            // Removing a host from the cluster: the administrators' alone; this host's lease is live, so it stays (409).
            "DELETE | /api/v1/hosts/{host}         |                                 | 401 | 409 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/hosts/{host}/metrics |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            // Maintenance mode: the administrators'. Put into it on no host at all (404), so that the rows after can
            // still create VMs here; taken out of it here (it was not in it: no change, 200).
            "PUT    | /api/v1/hosts/{nohost}/maintenance |                           | 401 | 404 | 403 | 403 | 403 | 403",
            "DELETE | /api/v1/hosts/{host}/maintenance |                             | 401 | 200 | 403 | 403 | 403 | 403",
            // Placement: its view of the hosts and its settings for all who read hosts; the settings changed by
            // administrators (to what they are by default); rating hosts for operators and administrators.
            "GET    | /api/v1/placement/hosts      |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            "GET    | /api/v1/placement/settings   |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            "PUT    | /api/v1/placement/settings   | {\"goal\":\"balance\",\"weights\":{\"cpu\":1,\"memory\":1,\"storage\":1}} "
                    + "| 401 | 200 | 403 | 403 | 403 | 403",
            "POST   | /api/v1/placement/ratings    | {\"vcpus\":1,\"memoryMib\":64}   | 401 | 200 | 200 | 403 | 403 | 403",
            "GET    | /api/v1/placement/ratings/vms/{idle} |                         | 401 | 200 | 200 | 403 | 403 | 403",
            "GET    | /api/v1/vms                  |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "POST   | /api/v1/vms                  | {\"name\":\"m\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"kernel\"}} "
                    + "| 401 | 201 | 201 | 403 | 403 | 403",
            "POST   | /api/v1/vms                  | {\"template\":\"stub\"}          | 401 | 201 | 201 | 403 | 201 | 201",
            // Resource controls at creation: the administrators' and operators' alone.
            "POST   | /api/v1/vms                  | {\"template\":\"stub\",\"resources\":{\"diskIops\":100}} | 401 | 201 | 201 | 403 | 403 | 403",
            "POST   | /api/v1/vms/check            | {\"template\":\"stub\"}          | 401 | 200 | 200 | 403 | 200 | 200",
            "POST   | /api/v1/vms/{idle}/store     | {\"template\":\"Not An Id\"} | 401 | 400 | 400 | 403 | 403 | 403",
            // Live migration: operators and administrators; the idle VM is Off, so allowed but not now (409).
            "POST   | /api/v1/vms/{idle}/migrate   | {\"host\":\"nowhere\"}        | 401 | 409 | 409 | 403 | 403 | 403",
            // Emptying a host: administrators; there is no such host to empty.
            "POST   | /api/v1/hosts/{nohost}/evacuate |                             | 401 | 404 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/vms/{idle}/export    |                                 | 401 | 200 | 200 | 403 | 404 | 404",
            "GET    | /api/v1/vms/{own}/export     |                                 | 401 | 200 | 200 | 403 | 200 | 200",
            // Not an archive: refused once the caller may create VMs at all.
            "POST   | /api/v1/vms/import           | {}                              | 401 | 400 | 400 | 403 | 400 | 400",
            "GET    | /api/v1/vms/{idle}/checkpoints |                               | 401 | 200 | 200 | 200 | 404 | 404",
            "GET    | /api/v1/vms/{own}/checkpoints |                                | 401 | 200 | 200 | 200 | 200 | 200",
            // The idle VM has no disk to keep a checkpoint in; {cp} is a checkpoint it does not have.
            "POST   | /api/v1/vms/{idle}/checkpoints | {\"name\":\"c\"}             | 401 | 400 | 400 | 403 | 404 | 404",
            "POST   | /api/v1/vms/{idle}/checkpoints/{cp}/apply |                    | 401 | 404 | 404 | 403 | 404 | 404",
            "PATCH  | /api/v1/vms/{idle}/checkpoints/{cp} | {\"name\":\"d\"}        | 401 | 404 | 404 | 403 | 404 | 404",
            "DELETE | /api/v1/vms/{idle}/checkpoints/{cp} |                          | 401 | 404 | 404 | 403 | 404 | 404",
            // Neither VM has a disk 0 to grow.
            "PATCH  | /api/v1/vms/{idle}/disks/{disk} | {\"sizeMib\":64}              | 401 | 400 | 400 | 403 | 404 | 404",
            "PATCH  | /api/v1/vms/{own}/disks/{disk} | {\"sizeMib\":64}               | 401 | 400 | 400 | 403 | 400 | 400",
            "POST   | /api/v1/vms/{idle}/disks     | {\"sizeMib\":0,\"format\":\"qcow2\"} | 401 | 400 | 400 | 403 | 400 | 400",
            "DELETE | /api/v1/vms/{idle}/disks/{disk} |                              | 401 | 400 | 400 | 403 | 404 | 404",
            // No such library item: refused naming the field once the caller may change the VM. The idle VM has no
            // CD-ROM drive to eject from.
            "PUT    | /api/v1/vms/{idle}/cdrom     | {\"library\":\"lib-nothere00\"} | 401 | 400 | 400 | 403 | 404 | 404",
            "PUT    | /api/v1/vms/{own}/cdrom      | {\"library\":\"lib-nothere00\"} | 401 | 400 | 400 | 403 | 400 | 400",
            "DELETE | /api/v1/vms/{idle}/cdrom     |                                 | 401 | 409 | 409 | 403 | 404 | 404",
            // No such switch (checked before the VM is looked up, as a new disk's size is); the idle VM has no adapter 0.
            "POST   | /api/v1/vms/{idle}/nics      | {\"switch\":\"no-such\"}        | 401 | 400 | 400 | 403 | 400 | 400",
            "DELETE | /api/v1/vms/{idle}/nics/{nic} |                                | 401 | 400 | 400 | 403 | 404 | 404",
            // Below one vCPU and the least memory: refused naming the field once the caller may change the VM.
            "PUT    | /api/v1/vms/{idle}/vcpus     | {\"vcpus\":0}                  | 401 | 400 | 400 | 403 | 404 | 404",
            "PUT    | /api/v1/vms/{own}/vcpus      | {\"vcpus\":0}                  | 401 | 400 | 400 | 403 | 400 | 400",
            "PUT    | /api/v1/vms/{idle}/memory    | {\"memoryMib\":1}              | 401 | 400 | 400 | 403 | 404 | 404",
            "PUT    | /api/v1/vms/{own}/memory     | {\"memoryMib\":1}              | 401 | 400 | 400 | 403 | 400 | 400",
            "GET    | /api/v1/vms/{idle}/resources |                                 | 401 | 200 | 200 | 200 | 404 | 404",
            // Resource controls are the administrators' and operators': a weight of 0 breaks the rule.
            "PUT    | /api/v1/vms/{idle}/resources | {\"cpuWeight\":0}              | 401 | 400 | 400 | 403 | 403 | 403",
            "PUT    | /api/v1/vms/{own}/resources  | {\"diskIops\":0}               | 401 | 400 | 400 | 403 | 403 | 403",
            "PUT    | /api/v1/vms/{own}/lease      | {\"expiresAt\":\"2099-01-01T00:00:00Z\"} | 401 | 200 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/policies             |                                 | 401 | 200 | 403 | 403 | 403 | 403",
            "POST   | /api/v1/policies             | {\"id\":\"{pid}\",\"name\":\"p\",\"precedence\":9} | 401 | 201 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/policies/{policy}    |                                 | 401 | 200 | 403 | 403 | 403 | 403",
            "PUT    | /api/v1/policies/{policy}    | {\"name\":\"q\",\"precedence\":9} | 401 | 200 | 403 | 403 | 403 | 403",
            "DELETE | /api/v1/policies/{policy}    |                                 | 401 | 204 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/quota-use            |                                 | 401 | 200 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/me/policy            |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "GET    | /api/v1/vms/{idle}           |                                 | 401 | 200 | 200 | 200 | 404 | 404",
            "GET    | /api/v1/vms/{own}            |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "PATCH  | /api/v1/vms/{idle}           | {\"name\":\"Idle VM\"}          | 401 | 200 | 200 | 403 | 404 | 404",
            "PATCH  | /api/v1/vms/{own}            | {\"name\":\"renamed\"}          | 401 | 200 | 200 | 403 | 200 | 200",
            "DELETE | /api/v1/vms/{other}          |                                 | 401 | 204 | 204 | 403 | 404 | 404",
            "DELETE | /api/v1/vms/{own}            |                                 | 401 | 204 | 204 | 403 | 204 | 204",
            "POST   | /api/v1/vms/{idle}/{pause}   |                                 | 401 | 409 | 409 | 403 | 404 | 404",
            "POST   | /api/v1/vms/{own}/{pause}    |                                 | 401 | 409 | 409 | 403 | 409 | 409",
            "GET    | /api/v1/vms/{idle}/serial    |                                 | 401 | 200 | 200 | 200 | 404 | 404",
            "GET    | /api/v1/vms/{own}/serial     |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "GET    | /api/v1/vms/{idle}/metrics   |                                 | 401 | 200 | 200 | 200 | 404 | 404",
            "GET    | /api/v1/vms/{own}/metrics    |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            // Screens are the console's: auditors see none; an Off VM has none (409).
            "GET    | /api/v1/vms/{idle}/screen.png |                                | 401 | 409 | 409 | 403 | 404 | 404",
            // The internal API the cluster's servers call one another on: the hosts' service identity alone, no person.
            "POST   | /api/v1/internal/vms/{idle}/operations | {\"operation\":\"TURN_OFF\"} | 401 | 403 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/internal/vms/{idle}/serial |                          | 401 | 403 | 403 | 403 | 403 | 403",
            "POST   | /api/v1/internal/vms/{idle}/incoming | {\"fromHost\":\"x\"} | 401 | 403 | 403 | 403 | 403 | 403",
            "POST   | /api/v1/internal/vms/{idle}/incoming/finish | {\"paused\":false} | 401 | 403 | 403 | 403 | 403 | 403",
            "DELETE | /api/v1/internal/vms/{idle}/incoming |                        | 401 | 403 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/vms/{own}/screen.png |                                 | 401 | 409 | 409 | 403 | 409 | 409",
            "GET    | /api/v1/jobs                 |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "GET    | /api/v1/jobs/{job}           |                                 | 401 | 200 | 200 | 200 | 404 | 404",
            "GET    | /api/v1/jobs/{ownjob}        |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            // Cancelling: {job} has ended (409 for whoever sees it); others' jobs do not exist for self-service users.
            "POST   | /api/v1/jobs/{job}/cancel    |                                 | 401 | 409 | 409 | 409 | 404 | 404",
            "POST   | /api/v1/jobs/{ownjob}/cancel |                                 | 401 | 409 | 409 | 409 | 409 | 409",
            "GET    | /api/v1/audit                |                                 | 401 | 200 | 403 | 200 | 403 | 403",
            "GET    | /api/v1/audit/verify         |                                 | 401 | 200 | 403 | 200 | 403 | 403",
            "GET    | /api/v1/me                   |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "GET    | /api/v1/templates            |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "GET    | /api/v1/templates/{tiny}     |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "POST   | /api/v1/templates/{tiny}/build |                               | 401 | 202 | 202 | 403 | 403 | 403",
            "GET    | /api/v1/switches             |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            "POST   | /api/v1/switches             | {\"id\":\"{sid}\",\"kind\":\"private\"} | 401 | 201 | 403 | 403 | 403 | 403",
            "GET    | /api/v1/switches/{switch}    |                                 | 401 | 200 | 200 | 200 | 403 | 403",
            "DELETE | /api/v1/switches/{switch}    |                                 | 401 | 204 | 403 | 403 | 403 | 403",
            // {item} is a fresh library item of the host's that everyone may see; {upload} an upload nobody started.
            "GET    | /api/v1/library              |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "GET    | /api/v1/library/{item}       |                                 | 401 | 200 | 200 | 200 | 200 | 200",
            "GET    | /api/v1/library/{item}/content |                               | 401 | 200 | 200 | 200 | 200 | 200",
            "DELETE | /api/v1/library/{item}       |                                 | 401 | 204 | 204 | 403 | 403 | 403",
            "POST   | /api/v1/library/imports      | {\"name\":\"x\",\"kind\":\"disk\",\"path\":\"/etc/passwd\"} | 401 | 400 | 403 | 403 | 403 | 403",
            "OPTIONS | /api/v1/library/uploads     |                                 | 401 | 204 | 204 | 403 | 204 | 204",
            "POST   | /api/v1/library/uploads      |                                 | 401 | 400 | 400 | 403 | 400 | 400",
            "GET    | /api/v1/library/uploads/{upload} |                             | 401 | 404 | 404 | 403 | 404 | 404",
            "HEAD   | /api/v1/library/uploads/{upload} |                             | 401 | 404 | 404 | 403 | 404 | 404",
            // No Upload-Offset: refused before the upload is looked for.
            "PATCH  | /api/v1/library/uploads/{upload} |                             | 401 | 400 | 400 | 403 | 400 | 400",
            "DELETE | /api/v1/library/uploads/{upload} |                             | 401 | 404 | 404 | 403 | 404 | 404",
    })
    void eachCallerGetsWhatTheirRoleAllows(String method, String path, String body, int anonymous, int admin,
            int operator, int auditor, int alice, int bob) {
        List<Integer> expected = List.of(anonymous, admin, operator, auditor, alice, bob);
        for (int i = 0; i < CALLERS.size(); i++) {
            String user = CALLERS.get(i);
            String resolved = resolve(path, user);
            RequestSpecification request = as(user);
            if (body != null) {
                request = request.contentType("application/json")
                        .body(body.replace("{pid}", "p-" + UUID.randomUUID().toString().substring(0, 8))
                                .replace("{sid}", "m" + UUID.randomUUID().toString().substring(0, 8)));
            }
            var response = request.when().request(method, resolved).then();
            response.statusCode(expected.get(i));
            if (expected.get(i) >= 400) {
                response.contentType("application/problem+json");
            }
        }
    }

    /** The table above, read back from its annotation, against the OpenAPI document the server publishes. */
    @Test
    void theMatrixCoversEveryEndpointOfThePublishedApi() {
        Set<String> published = new TreeSet<>();
        Map<String, Map<String, Object>> paths = given().when().get("/q/openapi?format=json").then().statusCode(200)
                .extract().jsonPath().getMap("paths");
        paths.forEach((path, operations) -> {
            if (path.startsWith("/api/")) {
                operations.keySet().forEach(m -> published.add(m.toUpperCase(Locale.ROOT) + " " + template(path)));
            }
        });
        Set<String> walked = new TreeSet<>();
        for (String row : matrixRows()) {
            String[] cells = row.split("\\|");
            walked.add(cells[0].trim() + " " + template(cells[1].trim()));
        }
        assertThat(walked).as("endpoints in the matrix").containsAll(published);
        assertThat(published).as("the published API").containsAll(walked);
    }

    private static List<String> matrixRows() {
        try {
            return List.of(ApiAccessTest.class.getDeclaredMethod("eachCallerGetsWhatTheirRoleAllows", String.class,
                    String.class, String.class, int.class, int.class, int.class, int.class, int.class, int.class)
                    .getAnnotation(CsvSource.class).value());
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    private static String template(String path) {
        return path.replaceAll("\\{[a-z]+}", "{}");
    }

    private String resolve(String path, String user) {
        String p = path.replace("{idle}", "idle").replace("{tiny}", "tiny-linux").replace("{pause}", "pause").replace("{host}", localHost.id())
                .replace("{nohost}", "no-such-host");
        p = p.contains("{other}") ? p.replace("{other}", aFreshVm(Caller.HOST)) : p;
        p = p.contains("{own}") ? p.replace("{own}", aFreshVm(user)) : p;
        p = p.contains("{ownjob}") ? p.replace("{ownjob}", aJob(user)) : p;
        p = p.contains("{policy}") ? p.replace("{policy}", aPolicy()) : p;
        p = p.contains("{switch}") ? p.replace("{switch}", aSwitch()) : p;
        p = p.contains("{item}") ? p.replace("{item}", aLibraryItem()) : p;
        p = p.replace("{upload}", "up-00000000000000000000").replace("{cp}", "cp-0000000000000000")
                .replace("{disk}", "0").replace("{nic}", "0");
        return p.contains("{job}") ? p.replace("{job}", aJob(Caller.HOST)) : p;
    }

    private String aFreshVm(String owner) {
        String id = "m-" + UUID.randomUUID().toString().substring(0, 8);
        vms.create(new Caller(owner, Set.of(), Set.of(), "127.0.0.1"), new VmRequests.NewVm(new VmDefinition(id,
                "matrix " + owner, 1, 64, DeviceProfile.ENLIGHTENED, List.of(), List.of(),
                new BootSource.Kernel(engine.storage().path().resolve("kernel"), null, ""), Display.NONE), Map.of(), null));
        return id;
    }

    /** A library item of the host's, on this host, that everyone may see (its file a few zero bytes). */
    private String aLibraryItem() {
        LibraryItemEntity item = new LibraryItemEntity();
        item.id = "lib-" + UUID.randomUUID().toString().substring(0, 8);
        try {
            Path file = engine.storage().library().resolve("items").resolve(item.id).resolve(item.id + ".img");
            Files.createDirectories(file.getParent());
            Files.write(file, new byte[4096]);
            item.file = engine.storage().library().relativize(file).toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        item.hostId = localHost.id();
        item.name = "matrix item";
        item.kind = ItemKind.DISK;
        item.format = DiskFormat.RAW;
        item.sourceFormat = ImageFormat.RAW;
        item.virtualBytes = 4096;
        item.actualBytes = 4096;
        item.sha256 = "0".repeat(64);
        item.owner = Caller.HOST;
        item.visibility = Visibility.EVERYONE;
        item.createdAt = Instant.now();
        QuarkusTransaction.requiringNew().run(item::persist);
        return item.id;
    }

    /** A private switch nobody uses (a real bridge: removed after the class). */
    private String aSwitch() {
        String id = "m" + UUID.randomUUID().toString().substring(0, 8);
        switches.create(new SwitchRequest(id, null, "private", null), Caller.host());
        return id;
    }

    /** A policy assigned to nobody. */
    private static String aPolicy() {
        PolicyEntity p = new PolicyEntity();
        p.id = "p-" + UUID.randomUUID().toString().substring(0, 8);
        p.name = "matrix";
        p.description = "";
        p.precedence = 9;
        p.createdAt = Instant.now();
        p.updatedAt = p.createdAt;
        QuarkusTransaction.requiringNew().run(p::persist);
        return p.id;
    }

    private static String aJob(String actor) {
        JobEntity job = new JobEntity();
        job.id = UUID.randomUUID();
        job.kind = "vm-start";
        job.actor = actor;
        job.state = JobEntity.State.SUCCEEDED;
        job.progress = 100;
        job.createdAt = Instant.now();
        job.updatedAt = job.createdAt;
        QuarkusTransaction.requiringNew().run(job::persist);
        return job.id.toString();
    }

    @Test
    void selfServiceUsersDoNotSeeVmsTheyDoNotOwn() {
        as("alice").when().get("/api/v1/vms").then().statusCode(200).body("items.owner", everyItem(equalTo("alice")));
        as("operator").when().get("/api/v1/vms").then().statusCode(200).body("items.id", hasItem("idle"));
    }

    @Test
    void aDenialSaysWhy() {
        as("alice").when().get("/api/v1/host").then().statusCode(403)
                .body("detail", equalTo("alice has no role that may read hosts (roles: hv-self-service)"));
    }

    @Test
    void aCallerWithoutATokenIsToldHowToSignIn() {
        given().when().get("/api/v1/vms").then().statusCode(401)
                .header("WWW-Authenticate", startsWith("Bearer"))
                .body("detail", startsWith("sign in first"));
    }

    @Test
    void aForgedOrMangledTokenIsRefused() {
        String token = Tokens.accessToken("admin");
        String mangled = token.substring(0, token.length() - 4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
        given().auth().oauth2(mangled).when().get("/api/v1/host").then().statusCode(401)
                .contentType("application/problem+json");
        given().auth().oauth2("not-a-jwt").when().get("/api/v1/host").then().statusCode(401);
        as("auditor").queryParam("actor", "anonymous").queryParam("target", "/api/v1/host")
                .when().get("/api/v1/audit").then().statusCode(200)
                .body("items[0].outcome", equalTo("DENIED"))
                .body("items[0].reason", startsWith("the bearer token was not accepted"))
                .body("items[0].parameters.status", equalTo(401));
    }

    @Test
    void meTellsWhoTheCallerIsAndWhatTheyMayDo() {
        as("alice").when().get("/api/v1/me").then().statusCode(200)
                .body("username", equalTo("alice"))
                .body("roles", contains("hv-self-service"))
                .body("groups", contains("engineering"))
                .body("permissions.vm-operate", equalTo("own"))
                .body("permissions.host-read", equalTo("none"))
                .body("permissions.vm-console", equalTo("own"))
                .body("permissions.vm-console-view", equalTo("own"));
    }
}
