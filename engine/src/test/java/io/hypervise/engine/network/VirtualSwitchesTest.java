package io.hypervise.engine.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Switches against the real kernel: bridges and tap devices this test makes and removes, with ids of
 * its own so that nothing else on the host is touched. These machines run tests as root; a host where
 * switches cannot work fails here, saying why, rather than skipping.
 */
class VirtualSwitchesTest {

    private final VirtualSwitches switches = VirtualSwitches.probe();
    private final String id = "t" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    private final String vm = "vm-" + id;
    private final String address = "10.203." + ThreadLocalRandom.current().nextInt(256) + ".1/24";

    @BeforeEach
    void switchesWorkHere() {
        assertThat(switches.unavailable()).as("why virtual switches cannot work on this host").isEmpty();
    }

    @AfterEach
    void removeWhatThisTestMade() {
        switches.unplug(vm, 2);
        if (switches.find(id).isPresent()) {
            switches.delete(id);
        }
    }

    @Test
    void anInternalSwitchIsABridgeCarryingTheHostsAddress() {
        VirtualSwitch made = switches.ensure(new VirtualSwitch(id, SwitchKind.INTERNAL, Optional.of(HostAddress.parse(address))));

        assertThat(switches.find(id)).contains(made);
        assertThat(made.hostAddress().orElseThrow().network()).endsWith(".0/24");
        assertThat(Files.isDirectory(Path.of("/sys/class/net", "hvs-" + id, "bridge"))).as("a Linux bridge").isTrue();
        assertThat(switches.ensure(made)).as("ensuring it again changes nothing").isEqualTo(made);
        assertThat(switches.list()).contains(made);
    }

    @Test
    void aSwitchCanChangeKindAndAPrivateOneGivesTheHostNoAddress() {
        switches.ensure(new VirtualSwitch(id, SwitchKind.INTERNAL, Optional.of(HostAddress.parse(address))));
        VirtualSwitch made = switches.ensure(new VirtualSwitch(id, SwitchKind.PRIVATE, Optional.empty()));

        assertThat(switches.find(id)).contains(made);
        assertThat(switches.find(id).orElseThrow().hostAddress()).isEmpty();
    }

    @Test
    void aPortIsATapOnTheBridgeNamedForTheVmAndCountedByTheKernel() throws Exception {
        switches.ensure(new VirtualSwitch(id, SwitchKind.PRIVATE, Optional.empty()));

        String port = switches.plug(vm, 1, id);

        assertThat(port).isEqualTo(VirtualSwitches.portName(vm, 1)).hasSizeLessThanOrEqualTo(15);
        assertThat(switches.ports(id)).singleElement().satisfies(p -> {
            assertThat(p.port()).isEqualTo(port);
            assertThat(p.vmId()).contains(vm);
            assertThat(p.nic()).isEqualTo(1);
            assertThat(p.counters()).hasValueSatisfying(c -> assertThat(c.receiveBytes()).isZero());
        });
        assertThat(Files.readString(Path.of("/sys/class/net", port, "master", "uevent"))).contains("INTERFACE=hvs-" + id);
        assertThat(PortCounters.of(port)).isPresent();

        switches.unplug(vm, 2);
        assertThat(switches.ports(id)).isEmpty();
        assertThat(PortCounters.of(port)).as("counters of a port that is gone").isEmpty();
    }

    @Test
    void aVlanIsABridgeOfItsOwnMadeWithItsFirstPortAndRemovedWithItsLast() throws Exception {
        switches.ensure(new VirtualSwitch(id, SwitchKind.INTERNAL, Optional.of(HostAddress.parse(address))));
        String vlan10 = VirtualSwitches.vlanBridgeName(id, 10);

        String tagged = switches.plug(vm, 0, id, 10);
        String untagged = switches.plug(vm, 1, id, null);

        assertThat(master(tagged)).as("the bridge of the port on VLAN 10").isEqualTo(vlan10);
        assertThat(master(untagged)).as("the bridge of a port on the default VLAN").isEqualTo("hvs-" + id);
        assertThat(Files.readString(Path.of("/sys/class/net", vlan10, "ifalias")).strip()).isEqualTo("hypervise:switch=" + id + " vlan=10");
        assertThat(switches.ports(id)).extracting(SwitchPort::port, SwitchPort::vlan)
                .containsExactlyInAnyOrder(tuple(tagged, Optional.of(10)), tuple(untagged, Optional.empty()));
        assertThat(switches.list()).as("a VLAN's bridge is not a switch of its own").extracting(VirtualSwitch::id).doesNotContain(vlan10);
        assertThatThrownBy(() -> switches.plug(vm, 2, id, 4095)).isInstanceOfSatisfying(NetworkException.class,
                e -> assertThat(e.reason()).isEqualTo(NetworkException.Reason.INVALID));

        switches.unplug(vm, 2);
        assertThat(Path.of("/sys/class/net", vlan10)).as("VLAN 10's bridge once its last port is gone").doesNotExist();
        assertThat(switches.find(id)).isPresent();
    }

    @Test
    void deletingASwitchRemovesItsVlansBridgesToo() throws Exception {
        switches.ensure(new VirtualSwitch(id, SwitchKind.PRIVATE, Optional.empty()));
        switches.plug(vm, 0, id, 20);
        new ProcessBuilder("ip", "link", "delete", "dev", VirtualSwitches.portName(vm, 0)).start().waitFor(); // the port only

        switches.delete(id);

        assertThat(Path.of("/sys/class/net", VirtualSwitches.vlanBridgeName(id, 20))).doesNotExist();
        assertThat(Path.of("/sys/class/net", "hvs-" + id)).doesNotExist();
    }

    @Test
    void aPortsReceiveLimitIsATokenBucketOnItsTapChangedInPlaceAndGoneWithThePort() throws Exception {
        assertThat(switches.receiveLimitUnavailable()).as("why this host cannot limit what VMs receive").isEmpty();
        switches.ensure(new VirtualSwitch(id, SwitchKind.PRIVATE, Optional.empty()));
        String port = switches.plug(vm, 0, id);

        switches.limit(vm, 0, 2_000_000L, null);
        assertThat(tc("qdisc", "show", "dev", port)).contains("qdisc tbf").contains("rate 2Mbit");
        switches.limit(vm, 0, 4_000_000L, null);
        assertThat(tc("qdisc", "show", "dev", port)).contains("rate 4Mbit").doesNotContain("rate 2Mbit");
        switches.limit(vm, 0, null, null);
        assertThat(tc("qdisc", "show", "dev", port)).as("the port's qdiscs once the limit is lifted").doesNotContain("tbf");
        switches.limit(vm, 0, null, null);

        switches.limit(vm, 0, 64_000L, null);
        switches.unplug(vm, 1);
        assertThat(tc("qdisc", "show")).as("every qdisc on the host, once the port is gone").doesNotContain(port);
        assertThatThrownBy(() -> switches.limit(vm, 0, 2_000_000L, null)).isInstanceOfSatisfying(NetworkException.class,
                e -> assertThat(e.reason()).isEqualTo(NetworkException.Reason.NOT_FOUND));
    }

    /** What a VM sends can only be policed; a kernel without tc actions cannot, and the port is left as it was. */
    @Test
    void aPortsTransmitLimitIsPolicedWhereTheKernelCanAndRefusedWithItsReasonWhereNot() throws Exception {
        switches.ensure(new VirtualSwitch(id, SwitchKind.PRIVATE, Optional.empty()));
        String port = switches.plug(vm, 0, id);
        switches.limit(vm, 0, 2_000_000L, null);

        Optional<String> unavailable = switches.transmitLimitUnavailable();
        if (unavailable.isPresent()) {
            assertThat(unavailable.get()).contains("tc: ");
            assertThatThrownBy(() -> switches.limit(vm, 0, 2_000_000L, 1_000_000L)).isInstanceOfSatisfying(NetworkException.class,
                    e -> assertThat(e.getMessage()).contains(unavailable.get()));
            assertThat(tc("qdisc", "show", "dev", port)).contains("rate 2Mbit").doesNotContain("ingress");
        } else {
            switches.limit(vm, 0, 2_000_000L, 1_000_000L);
            assertThat(tc("filter", "show", "dev", port, "ingress")).contains("police").contains("rate 1Mbit");
            switches.limit(vm, 0, 2_000_000L, null);
            assertThat(tc("qdisc", "show", "dev", port)).doesNotContain("ingress");
        }
    }

    private static String tc(String... args) throws Exception {
        java.util.List<String> argv = new java.util.ArrayList<>(java.util.List.of("tc"));
        argv.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", argv) + ": " + out).isZero();
        return out;
    }

    private static String master(String port) throws Exception {
        return Path.of("/sys/class/net", port, "master").toRealPath().getFileName().toString();
    }

    @Test
    void aSwitchWithVmsPluggedInIsNotDeleted() {
        switches.ensure(new VirtualSwitch(id, SwitchKind.PRIVATE, Optional.empty()));
        switches.plug(vm, 0, id);

        assertThatThrownBy(() -> switches.delete(id)).isInstanceOfSatisfying(NetworkException.class, e -> {
            assertThat(e.reason()).isEqualTo(NetworkException.Reason.IN_USE);
            assertThat(e.getMessage()).contains(vm).contains("turn those VMs off");
        });
        assertThat(switches.find(id)).isPresent();

        switches.unplug(vm, 1);
        switches.delete(id);
        assertThat(switches.find(id)).isEmpty();
        assertThat(Files.exists(Path.of("/sys/class/net", "hvs-" + id))).isFalse();
    }

    @Test
    void pluggingIntoASwitchThatIsNotThereSaysSo() {
        assertThatThrownBy(() -> switches.plug(vm, 0, id)).isInstanceOfSatisfying(NetworkException.class,
                e -> assertThat(e.reason()).isEqualTo(NetworkException.Reason.NOT_FOUND));
        assertThat(Files.exists(Path.of("/sys/class/net", VirtualSwitches.portName(vm, 0)))).isFalse();
    }

    @Test
    void anAddressOverlappingTheHostsOwnNetworksIsRefused() {
        switches.ensure(new VirtualSwitch(id, SwitchKind.INTERNAL, Optional.of(HostAddress.parse(address))));
        String other = "t" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
        String sameNetwork = address.replace(".1/24", ".9/25");

        assertThatThrownBy(() -> switches.ensure(new VirtualSwitch(other, SwitchKind.INTERNAL,
                Optional.of(HostAddress.parse(sameNetwork))))).isInstanceOfSatisfying(NetworkException.class, e -> {
                    assertThat(e.reason()).isEqualTo(NetworkException.Reason.INVALID);
                    assertThat(e.getMessage()).contains("overlaps").contains("hvs-" + id);
                });
        assertThat(switches.find(other)).isEmpty();
    }

    @Test
    void badIdsAndAddressesAreRefusedBeforeTheHostIsTouched() {
        assertThatThrownBy(() -> switches.ensure(new VirtualSwitch("Bad_Id", SwitchKind.PRIVATE, Optional.empty())))
                .isInstanceOfSatisfying(NetworkException.class, e -> assertThat(e.getMessage()).startsWith("id must be"));
        assertThatThrownBy(() -> switches.ensure(new VirtualSwitch("a-very-long-id", SwitchKind.PRIVATE, Optional.empty())))
                .isInstanceOf(NetworkException.class);
        assertThatThrownBy(() -> new VirtualSwitch(id, SwitchKind.PRIVATE, Optional.of(HostAddress.parse(address))))
                .hasMessageContaining("private switch");
        for (String bad : new String[] {"10.0.0.1", "10.0.0.256/24", "10.0.0.0/24", "10.0.0.255/24", "10.0.0.1/31",
                "127.0.0.1/8", "224.0.0.1/24", "10.0.0.1/24; rm -rf /", ""}) {
            assertThatThrownBy(() -> HostAddress.parse(bad)).as(bad).isInstanceOfSatisfying(NetworkException.class,
                    e -> assertThat(e.getMessage()).startsWith("hostAddress "));
        }
        assertThat(HostAddress.parse("192.168.7.1/24").network()).isEqualTo("192.168.7.0/24");
    }
}
