package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * An enlightened (q35) tiny-linux guest sees its CD-ROM drive, which sits on the machine's built-in AHCI controller:
 * the guest carries the ahci driver. Empty, the drive reads 0 bytes; holding an ISO, the ISO's size.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EnlightenedCdRomTest {

    private static final Duration BOOT = Duration.ofSeconds(60);

    private TestHost host;
    private Engine engine;

    @BeforeAll
    void openTheHost() throws Exception {
        host = TestHost.create();
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
    void theGuestSeesItsCdRomOnQ35sAhciEmptyOrHoldingAnIso() throws Exception {
        engine.vms().define(host.tinyLinux("cd-empty").withDisplay(io.hypervise.engine.vm.definition.Display.NONE)
                .withCdRom(null).build());
        SerialConsole empty = boot("cd-empty");
        assertThat(empty.lines()).contains("hv-disk sr0 0");
        assertThat(empty.text()).doesNotContain("hv-warn");
        engine.vms().turnOff("cd-empty");

        Path iso = host.bootCheckIso();
        engine.vms().define(host.tinyLinux("cd-iso").withDisplay(io.hypervise.engine.vm.definition.Display.NONE)
                .withCdRom(iso).build());
        SerialConsole holding = boot("cd-iso");
        long bytes = Files.size(iso);
        assertThat(holding.lines()).as("the ISO of %d bytes in the drive", bytes)
                .anyMatch(l -> l.matches("hv-disk sr0 [1-9][0-9]*") && Math.abs(Long.parseLong(l.substring(12)) - bytes) < 2048);
        engine.vms().turnOff("cd-iso");
    }

    private SerialConsole boot(String vm) {
        SerialConsole serial = new SerialConsole(engine.vms().serialLog(vm));
        assertThat(engine.vms().start(vm).state()).isEqualTo(VmState.RUNNING);
        serial.awaitLine(SerialConsole.READY, 1, BOOT);
        return serial;
    }
}
