package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static io.hypervise.server.GuestSerial.serial;
import static io.hypervise.server.GuestSerial.awaitSerial;
import static io.hypervise.server.GuestSerial.awaitSerialAfter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import io.hypervise.engine.Engine;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.server.access.Caller;
import io.hypervise.server.network.Switches;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.vm.VmService;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Network adapters added and removed while a VM runs, seen from inside the guest (tiny-linux prints "hv-nic NAME
 * MAC" and "hv-nic-gone NAME" as they come and go): one on a virtual switch (its tap on the switch's bridge, and
 * gone with it), one on the isolated network; bad input and a VM out of hot-plug ports are refused with the field
 * named, the VM running on unchanged; after a restart the guest has the adapters as changed; while Off too. A
 * running legacy VM's adapters change only once it is Off.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NicChangesApiTest {

    private static final Pattern HV_NIC = Pattern.compile("hv-nic (\\S+) (\\S+)");

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @Inject
    Switches switches;

    private final String switchId = "nic" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 5);
    private String vm;
    private String legacy;

    @AfterAll
    void removeTheVmAndTheSwitch() {
        for (String made : java.util.Arrays.asList(vm, legacy)) {
            if (made != null && engine.vms().find(made).isPresent()) {
                if (engine.vms().status(made).state() != VmState.OFF) {
                    engine.vms().turnOff(made);
                }
                vms.delete(Caller.host(), made);
            }
        }
        if (switches.find(switchId).isPresent()) {
            switches.delete(switchId, Caller.host());
        }
    }

    @Test
    void adaptersAddedAndRemovedWhileTheGuestRunsComeAndGoInsideAndStaySoAfterARestart() throws Exception {
        as("admin").contentType("application/json").body("{\"id\":\"" + switchId + "\",\"name\":\"Hot adapters\","
                        + "\"kind\":\"internal\",\"hostAddress\":\"10.206." + ThreadLocalRandom.current().nextInt(256) + ".1/24\"}")
                .when().post("/api/v1/switches").then().statusCode(201);
        vm = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"hot adapters","display":"none","memoryMib":160}""")
                .when().post("/api/v1/vms").then().statusCode(201).body("nics.size()", equalTo(1)).extract().path("id");
        String first = as("admin").when().get("/api/v1/vms/" + vm).then().extract().path("nics[0].mac");
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerial(vm, "hv-nic eth0 " + first);
        awaitSerial(vm, "HYPERVISE-READY");

        // Bad input first: refused naming the field; the VM runs on with its one adapter.
        post(vm, "{\"switch\":\"no-such\"}").statusCode(400).body("violations[0].field", equalTo("switch"))
                .body("violations[0].message", containsString("no virtual switch"));
        post(vm, "{\"vlan\":5}").statusCode(400).body("violations[0].field", equalTo("vlan"));
        post(vm, "{\"mac\":\"01:00:5e:00:00:01\"}").statusCode(400).body("violations[0].field", equalTo("nics[1].mac"))
                .body("violations[0].message", containsString("unicast"));
        post(vm, "{\"mac\":\"52:54:00:zz:00:01\"}").statusCode(400).body("violations[0].field", equalTo("nics[1].mac"));
        post(vm, "{\"mac\":\"" + first + "\"}").statusCode(400).body("violations[0].field", equalTo("mac"))
                .body("violations[0].message", containsString("already"));
        post(vm, "{\"switch\":\"" + switchId + "\",\"vlan\":5000}").statusCode(400).body("violations[0].field", equalTo("nics[1].vlan"));
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/5").then().statusCode(400)
                .body("violations[0].field", equalTo("nics[5]"));
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/x").then().statusCode(400)
                .body("violations[0].field", equalTo("position"));
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Running")).body("nics.size()", equalTo(1));

        // On the switch: the guest sees it, and its port is on the switch's bridge.
        String onSwitch = "52:54:00:ab:cd:01";
        post(vm, "{\"switch\":\"" + switchId + "\",\"mac\":\"" + onSwitch + "\"}").statusCode(200)
                .body("state", equalTo("Running")).body("nics.size()", equalTo(2))
                .body("nics[1].switch", equalTo(switchId)).body("nics[1].mac", equalTo(onSwitch));
        awaitSerial(vm, "hv-nic eth1 " + onSwitch);
        Path port = Path.of("/sys/class/net", VirtualSwitches.bridgeName(switchId), "brif", VirtualSwitches.portName(vm, 1));
        assertThat(port).as("the adapter's port on the switch's bridge").exists();
        as("admin").when().get("/api/v1/switches/" + switchId).then().statusCode(200).body("ports.vm", hasItem(vm));

        // On the isolated network, with a MAC the server picks.
        String isolated = post(vm, "{}").statusCode(200).body("nics.size()", equalTo(3)).body("nics[2].switch", equalTo(null))
                .extract().path("nics[2].mac");
        awaitSerial(vm, "hv-nic eth2 " + isolated);

        // Two more fill the hot-plug ports; a sixth finds none, and leaves nothing behind.
        String fill1 = post(vm, "{}").statusCode(200).extract().path("nics[3].mac");
        String fill2 = post(vm, "{}").statusCode(200).extract().path("nics[4].mac");
        awaitSerial(vm, "hv-nic eth3 " + fill1);
        awaitSerial(vm, "hv-nic eth4 " + fill2);
        post(vm, "{\"switch\":\"" + switchId + "\"}").statusCode(400).body("violations[0].field", equalTo("nics[5]"))
                .body("violations[0].message", containsString("no free hot-plug port"));
        assertThat(Path.of("/sys/class/net", VirtualSwitches.portName(vm, 5))).as("the refused adapter's port").doesNotExist();
        as("admin").when().get("/api/v1/vms/" + vm).then().body("state", equalTo("Running")).body("nics.size()", equalTo(5));
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/4").then().statusCode(200).body("nics.size()", equalTo(4));
        awaitSerial(vm, "hv-nic-gone eth4");
        // The port freed takes an adapter again (its backend was closed, its name free).
        String again = post(vm, "{}").statusCode(200).extract().path("nics[4].mac");
        awaitSerial(vm, "hv-nic eth4 " + again);
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/4").then().statusCode(200);
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/3").then().statusCode(200);
        awaitSerial(vm, "hv-nic-gone eth3");

        // The adapter it booted with goes; the others keep their names, their ports.
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/0").then().statusCode(200)
                .body("nics.size()", equalTo(2)).body("nics[0].mac", equalTo(onSwitch)).body("nics[1].mac", equalTo(isolated));
        awaitSerial(vm, "hv-nic-gone eth0");
        assertThat(port).as("the switch adapter's port, still there").exists();
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/0").then().statusCode(200).body("nics.size()", equalTo(1));
        awaitSerial(vm, "hv-nic-gone eth1");
        assertThat(Path.of("/sys/class/net", VirtualSwitches.portName(vm, 1))).as("the removed adapter's port").doesNotExist();
        as("admin").when().get("/api/v1/switches/" + switchId).then().statusCode(200).body("ports.size()", equalTo(0));

        // Inventory and engine agree.
        List<String> engineMacs = engine.vms().status(vm).definition().nics().stream().map(Nic::mac).toList();
        List<String> apiMacs = as("admin").when().get("/api/v1/vms/" + vm).then().extract().path("nics.mac");
        assertThat(apiMacs).isEqualTo(engineMacs).containsExactly(isolated);

        as("auditor").queryParam("action", "vm.nic.add").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED")).body("items.outcome", hasItem("FAILED"));
        as("auditor").queryParam("action", "vm.nic.remove").queryParam("target", "vm:" + vm).when().get("/api/v1/audit")
                .then().statusCode(200).body("items.outcome", hasItem("SUCCEEDED"));

        // While Off, one on the switch again; after a restart, the guest has exactly the adapters as changed.
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        String cold = "52:54:00:ab:cd:02";
        post(vm, "{\"switch\":\"" + switchId + "\",\"vlan\":7,\"mac\":\"" + cold + "\"}").statusCode(200)
                .body("state", equalTo("Off")).body("nics.size()", equalTo(2)).body("nics[1].vlan", equalTo(7));
        int from = serial(vm).split("\n").length;
        as("admin").when().post("/api/v1/vms/" + vm + "/start").then().statusCode(202);
        awaitSerialAfter(vm, from, "HYPERVISE-READY");
        String[] lines = serial(vm).split("\n");
        List<String> seen = Arrays.stream(lines, Math.min(from, lines.length), lines.length).map(HV_NIC::matcher)
                .filter(Matcher::matches).map(m -> m.group(2)).toList();
        assertThat(seen).as("the adapters the guest found after the restart").containsExactlyInAnyOrder(isolated, cold);

        // Removed while Off: the next start has it no more.
        as("admin").when().post("/api/v1/vms/" + vm + "/turn-off").then().statusCode(200);
        as("admin").when().delete("/api/v1/vms/" + vm + "/nics/0").then().statusCode(200).body("nics.mac", equalTo(List.of(cold)));
        assertThat(engine.vms().status(vm).definition().nics().stream().map(Nic::mac).toList()).containsExactly(cold);
    }

    /** The legacy profile's e1000 adapters sit on the PCI bus, which takes none while the guest runs: refused, saying so. */
    @Test
    void aRunningLegacyVmKeepsItsAdaptersUntilItIsOff() throws Exception {
        legacy = as("admin").contentType("application/json").body("""
                {"template":"tiny-linux","name":"legacy adapters","display":"none","memoryMib":160,"profile":"legacy"}""")
                .when().post("/api/v1/vms").then().statusCode(201).body("profile", equalTo("legacy")).extract().path("id");
        VmApiTest.awaitJob("admin", as("admin").when().post("/api/v1/vms/" + legacy + "/start").then().statusCode(202).extract().<String>path("id"));
        post(legacy, "{}").statusCode(400).body("violations[0].field", equalTo("nics[1]"))
                .body("violations[0].message", containsString("legacy profile"));
        as("admin").when().delete("/api/v1/vms/" + legacy + "/nics/0").then().statusCode(400)
                .body("violations[0].field", equalTo("nics[0]")).body("violations[0].message", containsString("legacy profile"));
        as("admin").when().get("/api/v1/vms/" + legacy).then().body("state", equalTo("Running")).body("nics.size()", equalTo(1));
        as("admin").when().post("/api/v1/vms/" + legacy + "/turn-off").then().statusCode(200);
        post(legacy, "{}").statusCode(200).body("nics.size()", equalTo(2));
        as("admin").when().delete("/api/v1/vms/" + legacy + "/nics/0").then().statusCode(200).body("nics.size()", equalTo(1));
    }

    private static io.restassured.response.ValidatableResponse post(String vm, String body) {
        return as("admin").contentType("application/json").body(body).when().post("/api/v1/vms/" + vm + "/nics").then();
    }
}
