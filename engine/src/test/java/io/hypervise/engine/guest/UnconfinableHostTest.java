package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.EngineSettings;
import io.hypervise.engine.host.AcceleratorChoice;
import io.hypervise.engine.vm.VmOperationException;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.worker.WorkerJail;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A host that lacks a piece of confinement, here a QEMU built without seccomp (a wrapper that refuses
 * {@code -sandbox} as such a QEMU does, and runs the real one otherwise): it says so in its capabilities, and
 * the administrator's mode decides whether its VMs run.
 */
class UnconfinableHostTest {

    private TestHost host;
    private Path qemu;

    @BeforeEach
    void aQemuWithoutSeccomp() throws Exception {
        host = TestHost.create();
        qemu = host.stateDir().resolveSibling("qemu-without-seccomp");
        Files.writeString(qemu, """
                #!/bin/sh
                for a in "$@"; do
                    if [ "$a" = -sandbox ]; then
                        echo "qemu-system-x86_64: -sandbox on,obsolete=deny: There is no option group 'sandbox'" >&2
                        exit 1
                    fi
                done
                exec /usr/bin/qemu-system-x86_64 "$@"
                """);
        Files.setPosixFilePermissions(qemu, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterEach
    void leaveNothingBehind() throws Exception {
        host.close();
        assertThat(host.workers()).isEmpty();
    }

    private Engine open(WorkerJail.Mode mode) throws Exception {
        WorkerJail.Settings defaults = WorkerJail.Settings.defaults();
        return Engine.open(new EngineConfig(host.storageRoot(), qemu.toString(), AcceleratorChoice.AUTO,
                EngineSettings.defaults(host.stateDir()), new WorkerJail.Settings(mode, defaults.firstUid(), defaults.uids())));
    }

    @Test
    void whenConfinementIsRequiredItsVmsAreRefusedSayingWhatTheHostLacks() throws Exception {
        try (Engine engine = open(WorkerJail.Mode.REQUIRED)) {
            WorkerJail.Status status = engine.vms().confinement();
            assertThat(status.confined()).isFalse();
            assertThat(status.inForce()).isEmpty();
            assertThat(status.unavailable()).singleElement().asString()
                    .startsWith("QEMU refuses its seccomp sandbox (-sandbox): ").contains("no option group 'sandbox'");
            engine.vms().define(host.tinyLinux("kept-off").build());
            assertThatThrownBy(() -> engine.vms().start("kept-off")).isInstanceOf(VmOperationException.class)
                    .hasMessageContaining("cannot start VM 'kept-off': this host cannot confine VM workers (QEMU refuses its"
                            + " seccomp sandbox")
                    .hasMessageContaining("confinement mode where-available");
            assertThat(engine.vms().status("kept-off").state()).isEqualTo(VmState.OFF);
            assertThat(engine.vms().status("kept-off").reason()).contains("cannot confine");
            assertThat(host.workers()).isEmpty();
        }
    }

    @Test
    void whereAvailableItsVmsRunUnconfinedAsBefore() throws Exception {
        try (Engine engine = open(WorkerJail.Mode.WHERE_AVAILABLE)) {
            assertThat(engine.vms().confinement().confined()).isFalse();
            engine.vms().define(host.tinyLinux("as-root").build());
            assertThat(engine.vms().start("as-root").state()).isEqualTo(VmState.RUNNING);
            new SerialConsole(engine.vms().serialLog("as-root")).awaitLine(SerialConsole.READY, 1, Duration.ofSeconds(90));
            long pid = engine.vms().status("as-root").workerPid().orElseThrow();
            List<String> status = Files.readAllLines(Path.of("/proc/" + pid + "/status"));
            assertThat(status).contains("Uid:\t0\t0\t0\t0").contains("Seccomp:\t0");
            engine.vms().turnOff("as-root");
        }
    }
}
