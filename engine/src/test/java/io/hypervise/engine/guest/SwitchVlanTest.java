package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.network.HostAddress;
import io.hypervise.engine.network.PortCounters;
import io.hypervise.engine.network.SwitchKind;
import io.hypervise.engine.network.VirtualSwitch;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.Nic;
import java.io.IOException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * VLANs with real guests: two VMs on one internal switch, one on the default VLAN (where the host's
 * address is) and one on VLAN 10, each asked to send to a socket the test holds at the host's address.
 * The first arrives; the second finds no one, though its adapter transmits.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SwitchVlanTest {

    private static final Duration BOOT_AND_SEND = Duration.ofSeconds(120);
    private static final String SWITCH = "tv" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    private static final int KIB = 64;

    private TestHost host;
    private Engine engine;
    private String subnet;
    private TcpSink forOpen;
    private TcpSink forClosed;

    @BeforeAll
    void twoGuestsOnOneSwitchOneOfThemOnVlan10() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
        subnet = "10.206." + ThreadLocalRandom.current().nextInt(256) + ".";
        engine.switches().ensure(new VirtualSwitch(SWITCH, SwitchKind.INTERNAL, Optional.of(HostAddress.parse(subnet + "1/24"))));
        forOpen = new TcpSink(subnet + "1");
        forClosed = new TcpSink(subnet + "1");
        define("open", null, 2, forOpen);
        define("closed", 10, 3, forClosed);
        engine.vms().start("open");
        engine.vms().start("closed");
    }

    private void define(String id, Integer vlan, int address, TcpSink to) throws IOException {
        engine.vms().define(host.tinyLinux(id, "hv.ip=eth0," + subnet + address + "/24 hv.send=" + subnet + "1,"
                        + to.port() + "," + KIB)
                .withNics(new Nic("52:54:00:aa:cc:0" + address, SWITCH, vlan)).build());
    }

    @AfterAll
    void leaveNothingBehind() throws Exception {
        try {
            forOpen.close();
            forClosed.close();
            engine.close();
        } finally {
            host.close();
            TestHost.removeSwitch(SWITCH, "open", "closed");
        }
    }

    @Test
    void theGuestOnTheHostsVlanReachesItAndTheOtherDoesNot() throws Exception {
        SerialConsole open = new SerialConsole(engine.vms().serialLog("open"));
        SerialConsole closed = new SerialConsole(engine.vms().serialLog("closed"));

        open.awaitLine("hv-sent " + KIB * 1024, 1, BOOT_AND_SEND);
        assertThat(forOpen.received().get(10, TimeUnit.SECONDS)).as("bytes from the guest on the default VLAN").isEqualTo(KIB * 1024L);
        closed.awaitLine("hv-send-failed", 1, BOOT_AND_SEND);
        PortCounters tried = PortCounters.of(VirtualSwitches.portName("closed", 0)).orElseThrow();
        assertThat(tried.transmitPackets()).as("frames the guest on VLAN 10 sent (asking for the host's address)").isPositive();
        forClosed.close();
        assertThat(forClosed.received().get(10, TimeUnit.SECONDS)).as("connections from the guest on VLAN 10").isEqualTo(-1L);
        assertThat(engine.switches().ports(SWITCH)).extracting(p -> p.vmId().orElseThrow() + "@" + p.vlan().map(String::valueOf).orElse("default"))
                .containsExactlyInAnyOrder("open@default", "closed@10");

        engine.vms().turnOff("closed");
        assertThat(engine.vms().status("closed").state()).isEqualTo(VmState.OFF);
        assertThat(engine.switches().ports(SWITCH)).extracting(p -> p.vmId().orElseThrow()).containsExactly("open");
    }
}
