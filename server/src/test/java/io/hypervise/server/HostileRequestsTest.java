package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.network.SwitchEntity;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Well over a hundred hostile or malformed requests: none may yield a 5xx, none may succeed, and
 * together they must leave the inventory and the engine exactly as they were.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileRequestsTest {

    @Inject
    Engine engine;

    private long vmsBefore;
    private int engineVmsBefore;
    private Object idleBefore;
    private long policiesBefore;

    record Hostile(String user, String method, String path, String contentType, String body, boolean encoded) {
        @Override
        public String toString() {
            String b = body == null ? "" : " " + (body.length() > 60 ? body.substring(0, 60) + "…(" + body.length() + ")" : body);
            return user + " " + method + " " + (path.length() > 80 ? path.substring(0, 80) + "…" : path) + b;
        }
    }

    static Stream<Hostile> corpus() {
        List<Hostile> c = new ArrayList<>();
        String vms = "/api/v1/vms";
        // Bodies that are not a valid VM request, each for POST /api/v1/vms.
        List<String> bodies = List.of("", "null", "[]", "123", "\"a string\"", "true", "{}", "{\"name\":null}",
                "{not json", "{\"name\":\"x\"", "{\"name\":\"x\",}", "\u0000", "{\"vcpus\":\"many\"}",
                "{\"vcpus\":1.5,\"template\":\"tiny-linux\"}", "{\"vcpus\":-1,\"template\":\"tiny-linux\"}",
                "{\"vcpus\":2147483648,\"template\":\"tiny-linux\"}", "{\"vcpus\":65,\"template\":\"tiny-linux\"}",
                "{\"memoryMib\":-256,\"template\":\"tiny-linux\"}", "{\"memoryMib\":99999999999,\"template\":\"tiny-linux\"}",
                "{\"memoryMib\":1,\"template\":\"tiny-linux\"}", "{\"template\":\"../../etc\"}", "{\"template\":\"\"}", "{\"template\":\"tiny\\u0000linux\"}",
                "{\"template\":\"tiny-linux\",\"boot\":{\"kind\":\"kernel\"}}", "{\"template\":[\"tiny-linux\"]}",
                "{\"template\":{\"id\":\"tiny-linux\"}}", "{\"name\":\"" + "n".repeat(65) + "\",\"template\":\"tiny-linux\"}",
                "{\"name\":\"" + "n".repeat(1_000_000) + "\",\"template\":\"tiny-linux\"}",
                "{\"name\":\"tab\\there\",\"template\":\"tiny-linux\"}", "{\"name\":\"nul\\u0000\",\"template\":\"tiny-linux\"}",
                "{\"name\":\"   \",\"template\":\"tiny-linux\"}", "{\"profile\":\"quantum\",\"template\":\"tiny-linux\"}",
                "{\"profile\":7,\"template\":\"tiny-linux\"}", "{\"display\":\"hdmi\",\"template\":\"tiny-linux\"}",
                "{\"name\":\"x\",\"boot\":null}", "{\"name\":\"x\",\"boot\":{}}", "{\"name\":\"x\",\"boot\":{\"kind\":\"pxe\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"/etc/passwd\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"../../../../etc/shadow\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"/proc/self/environ\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"library\\u0000/x\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"iso\",\"image\":\"/dev/sda\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"iso\"}}", "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"}}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[null]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"path\":\"/etc/passwd\",\"format\":\"raw\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"path\":\"x.img\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"path\":\"x.img\",\"format\":\"qcow2\\n\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"path\":\"/dev/zero\",\"format\":\"raw\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":\"all of them\"}",
                "{\"template\":\"tiny-linux\",\"nics\":[{\"mac\":\"ff:ff:ff:ff:ff:ff\"}]}",
                "{\"template\":\"tiny-linux\",\"nics\":[{\"mac\":\"00:00:00:00:00:00\"}]}",
                "{\"template\":\"tiny-linux\",\"nics\":[{\"mac\":\"52:54:00:zz:00:01\"}]}",
                "{\"template\":\"tiny-linux\",\"nics\":[{\"mac\":\"52:54:00:00:00:01,model=e1000\"}]}",
                "{\"template\":\"tiny-linux\",\"nics\":[null]}",
                "{\"template\":\"tiny-linux\",\"nics\":" + "[{\"mac\":\"52:54:00:00:00:02\"}]".repeat(1) .replace("]", ",{\"mac\":\"52:54:00:00:00:03\"}".repeat(9) + "]") + "}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":0,\"format\":\"qcow2\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":-5,\"format\":\"qcow2\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":999999999999,\"format\":\"raw\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":1,\"format\":\"qcow2\",\"path\":\"x.img\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":1,\"format\":\"qcow2\",\"readOnly\":true}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":\"big\",\"format\":\"qcow2\"}]}",
                "{\"name\":\"x\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":1}]}",
                "{\"name\":\"\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"sizeMib\":1,\"format\":\"qcow2\"}]}",
                "[".repeat(5000) + "]".repeat(5000),
                "{\"a\":".repeat(3000) + "1" + "}".repeat(3000));
        for (String body : bodies) {
            c.add(new Hostile("alice", "POST", vms, "application/json", body, false));
        }
        // The same kind of request, wrongly labelled or not allowed at all.
        c.add(new Hostile("alice", "POST", vms, "text/plain", "{\"template\":\"tiny-linux\"}", false));
        c.add(new Hostile("alice", "POST", vms, "application/xml", "<vm/>", false));
        c.add(new Hostile("alice", "POST", vms, "application/x-www-form-urlencoded", "template=tiny-linux", false));
        c.add(new Hostile("auditor", "POST", vms, "application/json", "{\"template\":\"tiny-linux\"}", false));
        c.add(new Hostile("anonymous", "POST", vms, "application/json", "{\"template\":\"tiny-linux\"}", false));
        c.add(new Hostile("nobody-token", "POST", vms, "application/json", "{\"template\":\"tiny-linux\"}", false));
        // Odd ids, actions and parameters.
        List<String> ids = List.of("..", "%2e%2e", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2F..%2Fetc", "%00", "vm-%0a",
                "a".repeat(5000), "%3Cscript%3E", "%F0%9F%92%A5", "null", "%27%20OR%201%3D1%20--", "*", "demo%2Fserial",
                "%252e%252e", "VM-UPPER", "-leading-dash", "idle");
        for (String id : ids) {
            c.add(new Hostile("bob", "GET", vms + "/" + id, null, null, true));
            c.add(new Hostile("bob", "DELETE", vms + "/" + id, null, null, true));
            c.add(new Hostile("bob", "POST", vms + "/" + id + "/start", null, null, true));
            c.add(new Hostile("bob", "GET", vms + "/" + id + "/serial", null, null, true));
            c.add(new Hostile("bob", "GET", vms + "/" + id + "/metrics", null, null, true));
            c.add(new Hostile("operator", "GET", "/api/v1/hosts/" + id + "/metrics", null, null, true));
        }
        for (String action : List.of("teleport", "START", "shut_down", "%2e%2e", "start%00", "delete", "")) {
            c.add(new Hostile("operator", "POST", vms + "/idle/" + action, null, null, true));
        }
        for (String q : List.of("page=-1", "page=abc", "size=0", "size=501", "size=1e9", "state=Flying",
                "page=99999999999", "size=%00", "state=Offf")) {
            c.add(new Hostile("alice", "GET", vms + "?" + q, null, null, true));
        }
        for (String q : List.of("lines=0", "lines=-1", "lines=10001", "lines=ten", "lines=%00", "lines=1.5")) {
            c.add(new Hostile("operator", "GET", vms + "/idle/serial?" + q, null, null, true));
        }
        // Metrics windows and steps that break their rules (a 400 naming the parameter; MetricsApiTest checks
        // the words), on a VM and on a host that exist or not.
        for (String q : List.of("from=yesterday", "to=2026-13-01T00:00:00Z", "from=2026-11-25T01:00:00",
                "from=2026-11-25T02:00:00Z&to=2026-11-25T01:00:00Z", "from=1900-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
                "from=2020-01-01T00:00:00Z&to=2026-11-01T00:00:00Z&step=1", "step=0", "step=-5", "step=PT0.5S",
                "step=P400D", "step=1e3", "step=%00", "step=" + "9".repeat(30), "from=%00", "to=" + "2".repeat(5000))) {
            c.add(new Hostile("operator", "GET", vms + "/idle/metrics?" + q, null, null, true));
            c.add(new Hostile("alice", "GET", vms + "/idle/metrics?" + q, null, null, true));
            c.add(new Hostile("auditor", "GET", "/api/v1/hosts/no-such-host/metrics?" + q, null, null, true));
        }
        for (String t : List.of("%00", "..", "%2e%2e%2fetc", "T".repeat(300), "tiny-linux%0a")) {
            c.add(new Hostile("alice", "GET", "/api/v1/templates/" + t, null, null, true));
        }
        for (String q : List.of("owner=%00", "name=%00", "name=" + "n".repeat(65))) {
            c.add(new Hostile("operator", "GET", vms + "?" + q, null, null, true));
        }
        for (String q : List.of("vm=%00", "state=done", "size=0", "page=x", "vm=" + "v".repeat(41))) {
            c.add(new Hostile("operator", "GET", "/api/v1/jobs?" + q, null, null, true));
        }
        // Settings the VM may not take, or a body that is no settings at all.
        for (String body : List.of("", "null", "[]", "{}", "{\"vcpus\":0}", "{\"vcpus\":65}", "{\"vcpus\":\"two\"}",
                "{\"memoryMib\":1}", "{\"name\":\"\"}", "{\"name\":\"   \"}", "{\"name\":\"n\\u0000\"}",
                "{\"name\":\"" + "n".repeat(65) + "\"}", "{\"profile\":\"quantum\"}", "{\"display\":\"hdmi\"}",
                "{\"disks\":[]}", "{\"owner\":\"alice\"}", "{\"id\":\"other\"}")) {
            c.add(new Hostile("operator", "PATCH", vms + "/idle", "application/json", body, false));
        }
        c.add(new Hostile("alice", "PATCH", vms + "/idle", "application/json", "{\"name\":\"mine now\"}", false));
        c.add(new Hostile("auditor", "PATCH", vms + "/idle", "application/json", "{\"name\":\"audited\"}", false));
        c.add(new Hostile("operator", "PATCH", vms + "/idle", "text/plain", "{\"name\":\"typed\"}", false));
        // Policies an administrator might mistype, and policy ids that cannot exist.
        for (String body : List.of("", "null", "[]", "{}", "{\"id\":\"p1\"}", "{\"id\":\"p1\",\"name\":\"n\",\"precedence\":\"high\"}",
                "{\"id\":\"p1\",\"name\":\"n\u0000\",\"precedence\":1}", "{\"id\":\"../p\",\"name\":\"n\",\"precedence\":1}",
                "{\"id\":\"p1\",\"name\":\"n\",\"precedence\":1,\"actions\":[\"fly\"]}",
                "{\"id\":\"p1\",\"name\":\"n\",\"precedence\":1,\"assignedGroups\":[null]}",
                "{\"id\":\"p1\",\"name\":\"n\",\"precedence\":1,\"maxMemoryMib\":-1}",
                "{\"id\":\"p1\",\"name\":\"n\",\"precedence\":1,\"templates\":[\"Tiny Linux\"]}",
                "{\"id\":\"p1\",\"name\":\"n\",\"precedence\":1,\"leaseDays\":99999}")) {
            c.add(new Hostile("admin", "POST", "/api/v1/policies", "application/json", body, false));
        }
        for (String id : List.of("%00", "..", "no-such-policy", "P", "a".repeat(300))) {
            c.add(new Hostile("admin", "GET", "/api/v1/policies/" + id, null, null, true));
            c.add(new Hostile("admin", "PUT", "/api/v1/policies/" + id, "application/json",
                    "{\"name\":\"n\",\"precedence\":1}", true));
        }
        c.add(new Hostile("alice", "POST", "/api/v1/policies", "application/json", "{\"id\":\"mine\",\"name\":\"n\",\"precedence\":1}", false));
        // Virtual switches: ids and addresses that would reach iproute2 as options, names or networks.
        for (String body : List.of("", "null", "[]", "{}", "{\"id\":\"s1\"}", "{\"id\":\"s1\",\"kind\":\"external\"}",
                "{\"id\":\"-s1\",\"kind\":\"private\"}", "{\"id\":\"s1 type dummy\",\"kind\":\"private\"}",
                "{\"id\":\"s1\",\"kind\":\"internal\",\"hostAddress\":\"10.1.1.1/24 dev eth0\"}",
                "{\"id\":\"s1\",\"kind\":\"internal\",\"hostAddress\":\"127.0.0.2/8\"}",
                "{\"id\":\"s1\",\"kind\":\"internal\",\"hostAddress\":\"0.0.0.0/0\"}",
                "{\"id\":\"s1\",\"kind\":\"internal\",\"hostAddress\":[\"10.1.1.1/24\"]}",
                "{\"id\":\"s1\",\"kind\":\"private\",\"name\":\"" + "n".repeat(65) + "\"}")) {
            c.add(new Hostile("admin", "POST", "/api/v1/switches", "application/json", body, false));
        }
        c.add(new Hostile("operator", "POST", "/api/v1/switches", "application/json", "{\"id\":\"s1\",\"kind\":\"private\"}", false));
        for (String id : List.of("%00", "..", "lo", "eth0", "a".repeat(300))) {
            c.add(new Hostile("admin", "GET", "/api/v1/switches/" + id, null, null, true));
            c.add(new Hostile("admin", "DELETE", "/api/v1/switches/" + id, null, null, true));
        }
        c.add(new Hostile("admin", "POST", vms, "application/json", "{\"template\":\"tiny-linux\",\"nics\":[{\"switch\":\"lo\"}]}", false));
        c.add(new Hostile("admin", "POST", vms, "application/json",
                "{\"template\":\"tiny-linux\",\"nics\":[{\"switch\":\"x,script=/bin/sh\"}]}", false));
        for (String vlan : List.of("0", "4095", "-1", "\"ten\"", "1.5", "99999999999")) {
            c.add(new Hostile("admin", "POST", vms, "application/json", "{\"template\":\"tiny-linux\",\"nics\":[{\"vlan\":" + vlan + "}]}", false));
        }
        c.add(new Hostile("admin", "PUT", vms + "/idle/lease", "application/json", "{\"expiresAt\":\"2001-01-01T00:00:00Z\"}", false));
        c.add(new Hostile("admin", "PUT", vms + "/idle/lease", "application/json", "{\"expiresAt\":\"tomorrow\"}", false));
        for (String method : List.of("PUT", "PATCH", "DELETE")) {
            c.add(new Hostile("admin", method, "/api/v1/host", "application/json", "{}", false));
            c.add(new Hostile("admin", method, "/api/v1/me", "application/json", "{}", false));
        }
        c.add(new Hostile("admin", "PUT", vms, "application/json", "{}", false));
        c.add(new Hostile("alice", "DELETE", vms + "/idle", null, null, false));
        c.add(new Hostile("alice", "POST", vms + "/idle/turn-off", null, null, false));
        c.add(new Hostile("operator", "POST", vms + "/idle/pause", null, null, false));
        c.add(new Hostile("operator", "POST", vms + "/idle/resume", null, null, false));
        c.add(new Hostile("anonymous", "GET", "/api/v1/host", null, null, false));
        c.add(new Hostile("garbage-token", "GET", "/api/v1/host", null, null, false));
        return c.stream();
    }

    @BeforeAll
    void aVmToAimAt() throws Exception {
        ApiAccessTest.ensureIdleVm(engine, vms);
        vmsBefore = recordedVms();
        engineVmsBefore = engine.vms().list().size();
        idleBefore = engine.vms().status("idle").definition();
        policiesBefore = policies();
    }

    private static long policies() {
        return QuarkusTransaction.requiringNew().call(() -> io.hypervise.server.policy.PolicyEntity.count());
    }

    private static long recordedVms() {
        return QuarkusTransaction.requiringNew().call(() -> VmEntity.count());
    }

    @Inject
    io.hypervise.server.vm.VmService vms;

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void isRefusedWithAClientErrorThatExplainsItself(Hostile h) {
        RequestSpecification spec = switch (h.user()) {
            case "nobody-token" -> given().header("Authorization", "Bearer ");
            case "garbage-token" -> given().header("Authorization", "Bearer " + "x".repeat(20_000));
            default -> as(h.user());
        };
        if (h.encoded()) {
            spec = spec.urlEncodingEnabled(false);
        }
        if (h.contentType() != null) {
            spec = spec.contentType(h.contentType());
        }
        if (h.body() != null) {
            spec = spec.body(h.body());
        }
        Response response = spec.when().request(h.method(), h.path());
        assertThat(response.statusCode()).as("status of %s; body %s", h, response.asString()).isBetween(400, 499);
    }

    /**
     * An image under the storage root whose qcow2 header names a host file as its backing file (made by
     * the real qemu-img): a 400 naming the disk and the rule, as a qcow2 and as a raw image alike, and
     * nothing is recorded or defined.
     */
    @Test
    void anImageNamingAHostFileAsItsBackingFileIsRefusedByItsField() throws Exception {
        Path secret = Files.writeString(Files.createTempFile("hv-host-secret", ".img"), "HOST-SECRET-MARKER\n".repeat(100));
        Path image = engine.storage().path().resolve("hostile-backing.qcow2");
        Process p = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", "-b", secret.toString(), "-F", "raw",
                image.toString(), "1M").redirectErrorStream(true).start();
        assertThat(p.waitFor()).as(new String(p.getInputStream().readAllBytes())).isZero();
        try {
            for (String format : List.of("qcow2", "raw")) {
                as("admin").contentType("application/json")
                        .body("{\"name\":\"backed\",\"boot\":{\"kind\":\"disk\"},\"disks\":[{\"path\":\"hostile-backing.qcow2\","
                                + "\"format\":\"" + format + "\"}]}")
                        .when().post("/api/v1/vms")
                        .then().statusCode(400)
                        .body("violations.field", contains("disks[0].path"))
                        .body("violations[0].message", format.equals("qcow2")
                                ? containsString("is a qcow2 image that names a backing file '" + secret + "'")
                                : startsWith("is declared raw but starts with a qcow or qcow2 header"));
            }
            assertThat(recordedVms()).isEqualTo(vmsBefore);
            assertThat(engine.vms().list()).hasSize(engineVmsBefore);
        } finally {
            Files.delete(image);
            Files.delete(secret);
        }
    }

    @AfterAll
    void nothingChanged() {
        assertThat(recordedVms()).isEqualTo(vmsBefore);
        assertThat(engine.vms().list()).hasSize(engineVmsBefore);
        assertThat(policies()).as("policies after the hostile requests").isEqualTo(policiesBefore);
        assertThat(QuarkusTransaction.requiringNew().call(() -> SwitchEntity.count())).as("switches made by hostile requests").isZero();
        assertThat(engine.switches().find("s1")).as("a bridge made by a hostile request").isEmpty();
        assertThat(engine.vms().status("idle").definition()).isEqualTo(idleBefore);
        assertThat(QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>findById("idle").name)).isEqualTo("Idle VM");
        assertThat(corpus().count()).isGreaterThanOrEqualTo(100);
    }
}
