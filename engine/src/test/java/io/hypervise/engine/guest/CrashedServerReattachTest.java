package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Nic;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A VM started by one process whose engine then dies without warning (as a crashed or killed server
 * does) is found running by the engine of a new process, which can still pause and stop it. The VM uses
 * the legacy device profile, so this also proves IDE disks and the e1000 NIC work.
 */
class CrashedServerReattachTest {

    private TestHost host;

    @BeforeEach
    void setUp() throws Exception {
        host = TestHost.create();
    }

    @AfterEach
    void tearDown() throws Exception {
        host.close();
        assertThat(host.workers()).isEmpty();
    }

    @Test
    void aVmStartedByACrashedProcessIsReattachedAndStillObeys() throws Exception {
        Path disk = host.newDisk("legacy.img", "raw", "32M");
        long workerPid = startInAnotherProcessThatThenDies(disk);

        try (Engine engine = host.openEngine()) {
            VmStatus status = engine.vms().status("legacy");
            assertThat(status.state()).isEqualTo(VmState.RUNNING);
            assertThat(status.workerPid()).hasValue(workerPid);

            SerialConsole serial = new SerialConsole(engine.vms().serialLog("legacy"));
            serial.awaitLine(SerialConsole.READY, 1, Duration.ofSeconds(60));
            assertThat(serial.lines()).contains("hv-disk sda 33554432", "hv-nic eth0 52:54:00:aa:bb:02");

            engine.vms().pause("legacy");
            long atPause = serial.lastCounter().orElse(-1);
            SerialConsole.sleep(2500);
            assertThat(serial.lastCounter().orElse(-1)).isEqualTo(atPause);

            VmStatus off = engine.vms().turnOff("legacy");
            assertThat(off.state()).isEqualTo(VmState.OFF);
            assertThat(ProcessHandle.of(workerPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        }
    }

    private long startInAnotherProcessThatThenDies(Path disk) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process other = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                StartAndCrash.class.getName(), host.stateDir().getParent().toString(), disk.toString())
                .redirectErrorStream(true)
                .start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(other.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                System.out.println("[other process] " + line);
                if (line.startsWith("STARTED ")) {
                    assertThat(other.waitFor(30, TimeUnit.SECONDS)).isTrue();
                    assertThat(other.exitValue()).as("the other process died abruptly").isEqualTo(137);
                    return Long.parseLong(line.substring("STARTED ".length()).trim());
                }
            }
        }
        throw new AssertionError("the other process exited without starting the VM: " + other.waitFor());
    }

    /** The other process: starts a legacy VM, then halts at once, as if killed. */
    public static final class StartAndCrash {
        public static void main(String[] args) throws Exception {
            TestHost host = TestHost.attach(Path.of(args[0]));
            Engine engine = host.openEngine();
            engine.vms().define(host.tinyLinux("legacy").legacy()
                    .withDisks(new Disk(Path.of(args[1]), DiskFormat.RAW, false))
                    .withNics(new Nic("52:54:00:aa:bb:02"))
                    .build());
            VmStatus status = engine.vms().start("legacy");
            System.out.println("STARTED " + status.workerPid().orElseThrow());
            System.out.flush();
            Runtime.getRuntime().halt(137);
        }
    }
}
