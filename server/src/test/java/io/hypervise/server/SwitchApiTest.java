package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.server.access.Caller;
import io.hypervise.server.vm.VmService;
import io.hypervise.server.network.Switches;
import io.hypervise.server.template.Templates;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Virtual switches through the API, with one real guest: an administrator makes an internal switch,
 * creates a VM with an adapter on it, and the guest sends 1 MiB over it to a socket on the host's side;
 * the VM's metrics and the switch's port show that traffic. Then the switch cannot be deleted while the
 * VM has an adapter on it; an administrator moves the Off VM's adapters off it, and then it can go, and
 * the kernel's bridge with it.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SwitchApiTest {

    private static final int SEND_KIB = 1024;

    @Inject
    Engine engine;

    @Inject
    Templates templates;

    @Inject
    Switches switches;

    @Inject
    VmService vms;

    private final String switchId = "lab" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 5);
    private final int subnet = ThreadLocalRandom.current().nextInt(256);
    private String vm;
    private ServerSocket receiver;
    private CompletableFuture<Long> received;

    @AfterAll
    void removeWhatThisTestMade() throws IOException {
        if (receiver != null) {
            receiver.close();
        }
        // After the class, RestAssured no longer points at the server: clean up through the services.
        if (vm != null && engine.vms().list().stream().anyMatch(s -> s.id().equals(vm))) {
            if (engine.vms().status(vm).state() != VmState.OFF) {
                engine.vms().turnOff(vm);
            }
            vms.delete(Caller.host(), vm);
        }
        if (switches.find(switchId).isPresent()) {
            switches.delete(switchId, Caller.host());
        }
    }

    @Test
    @Order(1)
    void anAdministratorMakesAnInternalSwitch() {
        as("admin").contentType("application/json")
                .body("{\"id\":\"" + switchId + "\",\"name\":\"Lab network\",\"kind\":\"internal\",\"hostAddress\":\"10.205."
                        + subnet + ".1/24\"}")
                .when().post("/api/v1/switches").then().statusCode(201)
                .header("Location", containsString("/api/v1/switches/" + switchId))
                .body("name", equalTo("Lab network"))
                .body("kind", equalTo("internal"))
                .body("network", equalTo("10.205." + subnet + ".0/24"))
                .body("present", equalTo(true))
                .body("ports.size()", equalTo(0));
        assertThat(Path.of("/sys/class/net", VirtualSwitches.bridgeName(switchId), "bridge")).as("the kernel's bridge").isDirectory();
        as("auditor").when().get("/api/v1/switches").then().statusCode(200)
                .body("items.id", hasItem(switchId)).body("unavailable", nullValue());
        as("auditor").queryParam("action", "switch.create").when().get("/api/v1/audit").then().statusCode(200)
                .body("items.target", hasItem("switch:" + switchId));
    }

    @Test
    @Order(2)
    void badSwitchesAreRefusedNamingEachFieldAndMakeNothing() {
        List<String[]> cases = List.of(
                new String[] {"{\"id\":\"Bad_Id\",\"kind\":\"private\"}", "id"},
                new String[] {"{\"id\":\"a-very-long-switch\",\"kind\":\"private\"}", "id"},
                new String[] {"{\"id\":\"okay\",\"kind\":\"external\"}", "kind"},
                new String[] {"{\"id\":\"okay\",\"kind\":\"internal\"}", "hostAddress"},
                new String[] {"{\"id\":\"okay\",\"kind\":\"internal\",\"hostAddress\":\"10.9.9.0/24\"}", "hostAddress"},
                new String[] {"{\"id\":\"okay\",\"kind\":\"internal\",\"hostAddress\":\"10.9.9.1/24 dev eth0\"}", "hostAddress"},
                new String[] {"{\"id\":\"okay\",\"kind\":\"private\",\"hostAddress\":\"10.9.9.1/24\"}", "hostAddress"},
                new String[] {"{\"id\":\"okay\",\"kind\":\"private\",\"name\":\"\\u0007\"}", "name"},
                // overlapping the network of the switch made above: the kernel is asked, and it says no
                new String[] {"{\"id\":\"okay\",\"kind\":\"internal\",\"hostAddress\":\"10.205." + subnet + ".7/24\"}", "hostAddress"},
                new String[] {"{\"id\":\"" + switchId + "\",\"kind\":\"private\"}", "id"},
                new String[] {"{\"id\":\"okay\",\"kind\":\"private\",\"name\":\"Lab network\"}", "name"});
        for (String[] c : cases) {
            as("admin").contentType("application/json").body(c[0]).when().post("/api/v1/switches").then()
                    .statusCode(400).contentType("application/problem+json")
                    .body("violations.field", hasItem(c[1]));
        }
        as("admin").contentType("application/json").body("[]").when().post("/api/v1/switches").then().statusCode(400);
        as("admin").when().get("/api/v1/switches").then().body("items.id", not(hasItem("okay")));
        assertThat(Path.of("/sys/class/net", VirtualSwitches.bridgeName("okay"))).doesNotExist();
        as("operator").contentType("application/json").body("{\"id\":\"ops\",\"kind\":\"private\"}").when()
                .post("/api/v1/switches").then().statusCode(403);
        as("admin").when().get("/api/v1/switches/nope").then().statusCode(404);
        as("admin").when().get("/api/v1/switches/..%2F..%2Fetc").then().statusCode(404);
    }

    @Test
    @Order(3)
    void onlyAdministratorsPlugVmsIntoSwitchesAndOnlyIntoOnesThatExist() {
        as("admin").contentType("application/json")
                .body("{\"template\":\"tiny-linux\",\"nics\":[{\"switch\":\"nope\"}]}").when().post("/api/v1/vms").then()
                .statusCode(400).body("violations[0].field", equalTo("nics[0].switch"))
                .body("violations[0].message", startsWith("no virtual switch 'nope'"));
        String onTheSwitch = "{\"template\":\"tiny-linux\",\"nics\":[{\"switch\":\"" + switchId + "\"}]}";
        as("operator").contentType("application/json").body(onTheSwitch).when().post("/api/v1/vms")
                .then().statusCode(400).body("violations[0].field", equalTo("nics[0].switch"))
                .body("violations[0].message", containsString("for administrators"));
        TestPolicies.allowEverything("switch-alice", "alice");
        as("alice").contentType("application/json").body(onTheSwitch).when().post("/api/v1/vms")
                .then().statusCode(400).body("violations[0].field", equalTo("nics[0].switch"))
                .body("violations[0].message", startsWith("your policies allow no virtual switch"));

        // A policy that names the switch lets its users plug into it, and into nothing else.
        as("admin").contentType("application/json").body("{\"id\":\"switch-bob\",\"name\":\"Bob's lab\",\"precedence\":1,"
                + "\"assignedUsers\":[\"bob\"],\"hostGroups\":[\"default\"],\"templates\":[\"tiny-linux\"],"
                + "\"actions\":[\"delete\"],\"maxVms\":5,\"switches\":[\"" + switchId + "\"]}")
                .when().post("/api/v1/policies").then().statusCode(201).body("switches", equalTo(List.of(switchId)));
        as("bob").contentType("application/json").body("{\"template\":\"tiny-linux\",\"nics\":[{\"switch\":\"other\"}]}")
                .when().post("/api/v1/vms").then().statusCode(400)
                .body("violations[0].message", startsWith("your policies allow only the switches " + switchId));
        String bobs = as("bob").contentType("application/json").body(onTheSwitch).when().post("/api/v1/vms")
                .then().statusCode(201).body("nics[0].switch", equalTo(switchId)).extract().path("id");
        as("admin").when().get("/api/v1/switches/" + switchId).then().body("adapters.vm", equalTo(List.of(bobs)));
        as("bob").when().delete("/api/v1/vms/" + bobs).then().statusCode(204);
        as("admin").when().delete("/api/v1/policies/switch-bob").then().statusCode(204);
    }

    @Test
    @Order(4)
    void aGuestSendingOverTheSwitchShowsInItsMetricsAndOnTheSwitchsPort() throws Exception {
        BootSource.Kernel tiny = (BootSource.Kernel) templates.bootSource(templates.find(Templates.TINY_LINUX).orElseThrow());
        Path root = engine.storage().path();
        receiver = new ServerSocket(0, 1, InetAddress.getByName("10.205." + subnet + ".1"));
        received = CompletableFuture.supplyAsync(this::receiveOne);
        String commandLine = tiny.commandLine() + " hv.ip=eth0,10.205." + subnet + ".2/24 hv.send=10.205." + subnet + ".1,"
                + receiver.getLocalPort() + "," + SEND_KIB;
        vm = as("admin").contentType("application/json")
                .body("{\"name\":\"networked\",\"boot\":{\"kind\":\"kernel\",\"kernel\":\"" + root.relativize(tiny.kernel())
                        + "\",\"initramfs\":\"" + root.relativize(tiny.initramfs()) + "\",\"commandLine\":\"" + commandLine
                        + "\"},\"nics\":[{\"switch\":\"" + switchId + "\"},{}]}")
                .when().post("/api/v1/vms").then().statusCode(201)
                .body("nics.switch", containsInAnyOrder(switchId, null))
                .body("nics[0].nic", equalTo("net0"))
                .extract().path("id");
        String from = Instant.now().minusSeconds(5).toString();
        VmApiTest.awaitJob("admin", as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202)
                .extract().path("id"));

        assertThat(received.get(120, TimeUnit.SECONDS)).as("bytes the host's socket received").isEqualTo(SEND_KIB * 1024L);
        Thread.sleep(2500); // two more samples, so the last of the traffic is in one

        var metrics = as("admin").queryParam("from", from).queryParam("step", "1").when().get("/api/v1/vms/" + vm + "/metrics")
                .then().statusCode(200)
                .body("unavailable.name", equalTo(List.of("nic.net1")))
                .body("unavailable[0].reason", startsWith("not connected to a virtual switch"))
                .extract().jsonPath();
        List<Float> rates = metrics.getList("series.find { it.name == 'nic.net0.transmit-bytes' }.points.avg", Float.class);
        double sent = rates.stream().mapToDouble(Float::doubleValue).sum(); // one-second points: bytes/s × 1 s
        System.out.printf("[switch] net0 while sending %d KiB: %.0f bytes transmitted, per the metrics API%n", SEND_KIB, sent);
        assertThat(sent).as("bytes the guest transmitted on net0, per the metrics API")
                .isBetween(SEND_KIB * 1024 * 0.98, SEND_KIB * 1024 * 1.15);

        var port = as("operator").when().get("/api/v1/switches/" + switchId).then().statusCode(200)
                .body("adapters.vm", equalTo(List.of(vm)))
                .body("ports.vm", equalTo(List.of(vm)))
                .body("ports[0].nic", equalTo("net0"))
                .extract().jsonPath();
        assertThat(port.getLong("ports[0].transmitBytes")).as("the port's cumulative count").isGreaterThanOrEqualTo(SEND_KIB * 1024L);
        String scraped = io.restassured.RestAssured.given().when().get("/q/metrics").then().statusCode(200).extract().asString();
        assertThat(scraped).containsPattern("hypervise_vm_nic_transmit_bytes_per_second\\{[^}]*nic=\"net0\"[^}]*vm=\"" + vm + "\"")
                .doesNotContainPattern("hypervise_vm_nic_transmit_bytes_per_second\\{[^}]*nic=\"net1\"[^}]*vm=\"" + vm + "\"");
    }

    @Test
    @Order(5)
    void anAdministratorMovesAnOffVmsAdaptersAndOnlyThenTheSwitchCanGo() {
        as("admin").when().delete("/api/v1/switches/" + switchId).then().statusCode(409)
                .body("detail", containsString("networked"));
        String patch = "{\"nics\":[{},{\"switch\":\"" + switchId + "\",\"vlan\":10}]}";
        as("admin").contentType("application/json").body(patch).when().patch("/api/v1/vms/" + vm).then()
                .statusCode(409).body("detail", containsString("Running"));
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        assertThat(Path.of("/sys/class/net", VirtualSwitches.portName(vm, 0))).as("the VM's port, once it is off").doesNotExist();
        as("admin").when().get("/api/v1/switches/" + switchId).then().body("ports.size()", equalTo(0));
        List<String> macs = as("admin").when().get("/api/v1/vms/" + vm).then().extract().path("nics.mac");

        as("operator").contentType("application/json").body(patch).when().patch("/api/v1/vms/" + vm).then()
                .statusCode(400).body("violations[0].field", equalTo("nics"));
        as("admin").contentType("application/json").body("{\"nics\":[{\"switch\":\"nope\"}]}").when()
                .patch("/api/v1/vms/" + vm).then().statusCode(400).body("violations[0].field", equalTo("nics[0].switch"));
        as("admin").contentType("application/json").body("{\"nics\":[{\"switch\":\"" + switchId + "\",\"vlan\":4095},{\"vlan\":7}]}")
                .when().patch("/api/v1/vms/" + vm).then().statusCode(400)
                .body("violations.field", equalTo(List.of("nics[0].vlan", "nics[1].vlan")));
        as("admin").contentType("application/json").body(patch).when().patch("/api/v1/vms/" + vm).then().statusCode(200)
                .body("nics.switch", equalTo(Arrays.asList(null, switchId)))
                .body("nics.vlan", equalTo(Arrays.asList(null, 10)))
                .body("nics.mac", equalTo(macs));
        as("admin").when().get("/api/v1/switches/" + switchId).then().body("adapters.nic", equalTo(List.of("net1")))
                .body("adapters[0].vlan", equalTo(10));
        as("auditor").queryParam("action", "vm.reconfigure").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items[0].parameters.nics.to[1]", equalTo(macs.get(1) + " on switch " + switchId + " VLAN 10"));

        as("admin").contentType("application/json").body("{\"nics\":[{},{}]}").when().patch("/api/v1/vms/" + vm).then()
                .statusCode(200).body("nics.switch", equalTo(Arrays.asList(null, null)));
        as("operator").when().delete("/api/v1/switches/" + switchId).then().statusCode(403);
        as("admin").when().delete("/api/v1/switches/" + switchId).then().statusCode(204);
        assertThat(Path.of("/sys/class/net", VirtualSwitches.bridgeName(switchId))).doesNotExist();
        as("admin").when().get("/api/v1/switches/" + switchId).then().statusCode(404);
        as("admin").when().get("/api/v1/vms/" + vm).then().statusCode(200).body("state", equalTo("Off"));
        as("admin").when().delete("/api/v1/vms/" + vm).then().statusCode(204);
    }

    private long receiveOne() {
        try (Socket guest = receiver.accept(); InputStream in = guest.getInputStream()) {
            guest.setSoTimeout((int) Duration.ofSeconds(120).toMillis());
            long total = 0;
            byte[] buffer = new byte[65536];
            for (int n; (n = in.read(buffer)) > 0; ) {
                total += n;
            }
            return total;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
