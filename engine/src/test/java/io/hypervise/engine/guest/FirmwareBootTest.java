package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.template.BootCheckIso;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.Vms;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.Definitions;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Firmware;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Install-from-ISO under both firmwares: VMs with a blank disk boot the boot-check ISO, and GRUB on it
 * says which firmware started it. UEFI VMs keep firmware variables of their own, across a save and
 * restore, until they are deleted. The tests share one engine and run in order.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FirmwareBootTest {

    /** SeaBIOS reaches GRUB in about a second under TCG, OVMF in about five; generous for a busy host. */
    private static final Duration BOOT = Duration.ofSeconds(90);
    private static final long BLANK_DISK = 64L << 20;

    private TestHost host;
    private Engine engine;
    private Path iso;
    private Path template;

    @BeforeAll
    void openTheHost() throws IOException {
        host = TestHost.create();
        engine = host.openEngine();
        iso = host.bootCheckIso();
        assertThat(engine.host().uefiAvailable()).as("OVMF installed (Debian package ovmf)").isTrue();
        template = engine.host().uefiFirmware().orElseThrow().variablesTemplate();
    }

    @AfterAll
    void leaveNothingBehind() throws IOException {
        try {
            if (engine != null) {
                engine.close();
            }
        } finally {
            host.close();
        }
        assertThat(host.workers()).as("workers left running").isEmpty();
    }

    private Vms vms() {
        return engine.vms();
    }

    private Definitions installer(String id) {
        return Definitions.aVm(new BootSource.Iso(iso)).withId(id).withName(id)
                .withDisks(new Disk(null, DiskFormat.QCOW2, false));
    }

    private Path variablesOf(String id) {
        return host.stateDir().resolve("vms/" + id + "/uefi-vars.fd");
    }

    /** Starts the VM and waits for GRUB's line; returns the seconds from start to the line. */
    private double bootAndAwait(String id, String marker) {
        long start = System.nanoTime();
        assertThat(vms().start(id).state()).isEqualTo(VmState.RUNNING);
        new SerialConsole(vms().serialLog(id)).awaitText(marker, BOOT);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("[firmware] %s printed '%s' %.1f s after start%n", id, marker, seconds);
        return seconds;
    }

    @Test
    @Order(1)
    void aBiosVmBootsTheIsoWithSeaBios() {
        vms().define(installer("bios").legacy().build(), Map.of(0, BLANK_DISK));
        bootAndAwait("bios", BootCheckIso.marker(Firmware.BIOS));
        assertThat(new SerialConsole(vms().serialLog("bios")).text()).doesNotContain("firmware=efi");
        assertThat(variablesOf("bios")).doesNotExist();
        vms().turnOff("bios");
        assertThat(vms().delete("bios")).singleElement().satisfies(disk -> assertThat(disk).doesNotExist());
    }

    @Test
    @Order(2)
    void uefiVmsBootTheIsoWithOvmfOnEitherMachineEachWithItsOwnVariables() throws IOException {
        vms().define(installer("uefi-q35").uefi().build(), Map.of(0, BLANK_DISK));
        vms().define(installer("uefi-pc").legacy().uefi().build(), Map.of(0, BLANK_DISK));
        byte[] empty = Files.readAllBytes(template);
        for (String id : List.of("uefi-q35", "uefi-pc")) {
            assertThat(variablesOf(id)).as("made when defined").hasBinaryContent(empty);
        }
        assertThat(Files.isSameFile(variablesOf("uefi-q35"), variablesOf("uefi-pc"))).isFalse();

        for (String id : List.of("uefi-q35", "uefi-pc")) {
            bootAndAwait(id, BootCheckIso.marker(Firmware.UEFI));
            assertThat(new SerialConsole(vms().serialLog(id)).text()).doesNotContain("firmware=pc");
            assertThat(Files.readAllBytes(variablesOf(id))).as("OVMF wrote its boot entries to the VM's copy")
                    .isNotEqualTo(empty);
        }
        assertThat(template).as("the host's template").hasBinaryContent(empty);
    }

    @Test
    @Order(3)
    void uefiVariablesStayThroughSaveAndRestore() throws IOException {
        byte[] before = Files.readAllBytes(variablesOf("uefi-q35"));
        assertThat(vms().save("uefi-q35").state()).isEqualTo(VmState.SAVED);
        assertThat(variablesOf("uefi-q35")).hasBinaryContent(before);
        assertThat(vms().start("uefi-q35").state()).isEqualTo(VmState.RUNNING);
        assertThat(vms().status("uefi-q35").workerPid()).isPresent();
        assertThat(variablesOf("uefi-q35")).hasBinaryContent(before);
    }

    @Test
    @Order(4)
    void uefiVariablesAreDeletedWithTheirVmOnly() {
        vms().turnOff("uefi-q35");
        vms().turnOff("uefi-pc");
        vms().delete("uefi-q35");
        assertThat(variablesOf("uefi-q35")).doesNotExist();
        assertThat(variablesOf("uefi-pc")).exists();
        vms().delete("uefi-pc");
        assertThat(variablesOf("uefi-pc")).doesNotExist();
    }
}
