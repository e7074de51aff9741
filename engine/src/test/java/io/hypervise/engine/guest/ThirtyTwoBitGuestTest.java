package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.template.TinyLinuxTemplate;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Nic;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The 32-bit guest, {@code tiny-linux-i386}: Debian's i386 kernel and busybox in the same
 * qemu-system-x86_64 as every VM, keeping the same guest contract as the 64-bit template. What counts is
 * what the guest printed: that it runs i686, sees its disk and NIC in both device profiles, counts, and
 * powers off on the ACPI button.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ThirtyTwoBitGuestTest {

    private static final Duration BOOT = Duration.ofSeconds(60);

    private TestHost host;
    private Engine engine;

    @BeforeAll
    void buildTheTemplate() throws Exception {
        long start = System.nanoTime();
        host = TestHost.create(TinyLinuxTemplate.Variant.I386); // builds tiny-linux-i386 unless it is cached
        System.out.printf("[tiny-linux-i386] template ready after %d ms%n", (System.nanoTime() - start) / 1_000_000);
        engine = host.openEngine();
    }

    @AfterAll
    void leaveNothingBehind() throws Exception {
        try {
            if (engine != null) {
                engine.close();
            }
        } finally {
            host.close();
        }
        assertThat(host.workers()).as("workers left running").isEmpty();
    }

    @Test
    void enlightenedI386GuestRuns32BitSeesItsVirtioDiskAndNicAndPowersOffOnRequest() throws Exception {
        engine.vms().define(host.tinyLinux("i386-virtio")
                .withDisks(new Disk(host.newDisk("virtio.qcow2", "qcow2", "32M"), DiskFormat.QCOW2, false))
                .withNics(new Nic("52:54:00:32:00:01"))
                .build());
        SerialConsole serial = boot("i386-virtio");
        assertThat(serial.lines()).contains("hv-arch i686", "hv-disk vda 33554432", "hv-nic eth0 52:54:00:32:00:01");
        assertThat(serial.text()).doesNotContain("hv-warn");
        serial.awaitCounterAbove(1, Duration.ofSeconds(20));

        VmStatus off = engine.vms().shutDown("i386-virtio", Duration.ofSeconds(60));
        assertThat(off.state()).isEqualTo(VmState.OFF);
        assertThat(off.reason()).isEqualTo("shut down by the guest on request");
        assertThat(serial.text()).contains(TinyLinuxTemplate.POWEROFF_MARKER);
    }

    @Test
    void legacyI386GuestSeesItsIdeDiskAndE1000() throws Exception {
        engine.vms().define(host.tinyLinux("i386-legacy").legacy()
                .withDisks(new Disk(host.newDisk("ide.raw", "raw", "16M"), DiskFormat.RAW, false))
                .withNics(new Nic("52:54:00:32:00:02"))
                .build());
        SerialConsole serial = boot("i386-legacy");
        assertThat(serial.lines()).contains("hv-arch i686", "hv-disk sda 16777216", "hv-nic eth0 52:54:00:32:00:02");
        assertThat(serial.text()).doesNotContain("hv-warn");
        engine.vms().turnOff("i386-legacy");
    }

    private SerialConsole boot(String vm) {
        SerialConsole serial = new SerialConsole(engine.vms().serialLog(vm));
        long start = System.nanoTime();
        assertThat(engine.vms().start(vm).state()).isEqualTo(VmState.RUNNING);
        serial.awaitLine(SerialConsole.READY, 1, BOOT);
        System.out.printf("[tiny-linux-i386] %s: start to %s in %d ms%n", vm, SerialConsole.READY,
                (System.nanoTime() - start) / 1_000_000);
        return serial;
    }
}
