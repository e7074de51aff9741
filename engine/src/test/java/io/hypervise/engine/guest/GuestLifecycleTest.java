package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmEvent;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStateException;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.Vms;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Nic;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * One real tiny-linux guest under QEMU (TCG here), taken through its whole life. The tests share the
 * guest to keep the suite short, so they run in order; each asserts on what the guest itself printed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GuestLifecycleTest {

    private static final Duration BOOT = Duration.ofSeconds(60);
    private static final String VM = "life";

    private TestHost host;
    private Engine engine;
    private SerialConsole serial;
    private final List<VmEvent> events = new CopyOnWriteArrayList<>();

    @BeforeAll
    void bootTheGuest() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
        engine.vms().addListener(events::add);
        engine.vms().define(host.tinyLinux(VM)
                .withDisks(new Disk(host.newDisk("data.qcow2", "qcow2", "64M"), DiskFormat.QCOW2, false))
                .withNics(new Nic("52:54:00:aa:bb:01"))
                .build());
        serial = new SerialConsole(engine.vms().serialLog(VM));
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
        assertThat(host.stateDir()).doesNotExist();
    }

    private Vms vms() {
        return engine.vms();
    }

    @Test
    @Order(1)
    void startedGuestPrintsItsReadinessMarkerAndSeesItsVirtioDiskAndNic() {
        VmStatus status = vms().start(VM);
        assertThat(status.state()).isEqualTo(VmState.RUNNING);
        assertThat(status.workerPid()).isPresent();
        serial.awaitLine(SerialConsole.READY, 1, BOOT);
        assertThat(serial.lines()).anyMatch(l -> l.matches("hv-disk vda 67108864"));
        assertThat(serial.lines()).anyMatch(l -> l.equals("hv-nic eth0 52:54:00:aa:bb:01"));
        assertThat(serial.lines()).contains("hv-arch x86_64");
        serial.awaitCounterAbove(1, Duration.ofSeconds(20));
    }

    @Test
    @Order(2)
    void illegalActionsAreRefusedWithAClearMessage() {
        assertThatThrownBy(() -> vms().resume(VM))
                .isInstanceOf(VmStateException.class)
                .hasMessage("cannot resume VM 'life' while it is Running; resume is possible when it is Paused");
        assertThatThrownBy(() -> vms().start(VM)).isInstanceOf(VmStateException.class);
    }

    @Test
    @Order(3)
    void pausedGuestStopsCountingAndResumedGuestGoesOn() {
        long before = serial.awaitCounterAbove(serial.lastCounter().orElse(0), Duration.ofSeconds(20));
        assertThat(vms().pause(VM).state()).isEqualTo(VmState.PAUSED);
        long atPause = serial.lastCounter().orElseThrow();
        SerialConsole.sleep(3000);
        assertThat(serial.lastCounter().orElseThrow()).as("counter while paused").isEqualTo(atPause);
        assertThat(atPause).isGreaterThanOrEqualTo(before);

        assertThat(vms().resume(VM).state()).isEqualTo(VmState.RUNNING);
        assertThat(serial.awaitCounterAbove(atPause, Duration.ofSeconds(20))).isBetween(atPause + 1, atPause + 2);
    }

    @Test
    @Order(4)
    void savedGuestContinuesCountingWhereItStoppedAfterRestore() throws Exception {
        long beforeSave = serial.awaitCounterAbove(serial.lastCounter().orElse(0), Duration.ofSeconds(20));
        long oldPid = vms().status(VM).workerPid().orElseThrow();

        VmStatus saved = vms().save(VM);
        assertThat(saved.state()).isEqualTo(VmState.SAVED);
        assertThat(saved.workerPid()).isEmpty();
        assertThat(ProcessHandle.of(oldPid).map(ProcessHandle::isAlive).orElse(false)).as("old worker alive").isFalse();
        Path stateFile = host.stateDir().resolve("vms/" + VM + "/saved.state");
        assertThat(Files.size(stateFile)).isGreaterThan(1 << 20);
        assertThat(events).anyMatch(e -> e instanceof VmEvent.Progress p && p.vmId().equals(VM) && p.done() > 0);
        long atSave = serial.lastCounter().orElseThrow();
        assertThat(atSave).isGreaterThanOrEqualTo(beforeSave);
        SerialConsole.sleep(2000);
        assertThat(serial.lastCounter().orElseThrow()).as("counter while saved").isEqualTo(atSave);

        VmStatus restored = vms().start(VM);
        assertThat(restored.state()).isEqualTo(VmState.RUNNING);
        assertThat(restored.workerPid()).isPresent().isNotEqualTo(saved.workerPid());
        assertThat(serial.awaitCounterAbove(atSave, Duration.ofSeconds(20)))
                .as("the counter continues from where it was, not from zero")
                .isBetween(atSave + 1, atSave + 2);
        assertThat(serial.count(SerialConsole.READY)).as("the guest did not boot again").isEqualTo(1);
        assertThat(stateFile).doesNotExist();
    }

    @Test
    @Order(5)
    void aNewEngineOverTheSameStateReattachesAndCanStillPauseAndStop() throws Exception {
        VmStatus before = vms().status(VM);
        long pid = before.workerPid().orElseThrow();
        engine.close();
        engine = host.openEngine();

        VmStatus reattached = vms().status(VM);
        assertThat(reattached.state()).isEqualTo(VmState.RUNNING);
        assertThat(reattached.workerPid()).hasValue(pid);
        assertThat(reattached.reason()).contains("re-attached");
        assertThat(reattached.since()).as("running since it started, not since the new engine found it")
                .isEqualTo(before.since());

        long atPause = pauseAndCheckCounterStops();
        vms().resume(VM);
        serial.awaitCounterAbove(atPause, Duration.ofSeconds(20));
    }

    @Test
    @Order(6)
    void aKilledWorkerIsReportedOffWithItsReasonWithinASecond() throws Exception {
        long pid = vms().status(VM).workerPid().orElseThrow();
        new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
        long killedAt = System.nanoTime();
        while (vms().status(VM).state() != VmState.OFF) {
            assertThat(Duration.ofNanos(System.nanoTime() - killedAt)).as("time to notice").isLessThan(Duration.ofSeconds(1));
            SerialConsole.sleep(10);
        }
        assertThat(vms().status(VM).reason()).startsWith("worker " + pid + " ended unexpectedly: ");
    }

    @Test
    @Order(7)
    void gracefulShutdownEndsOffBecauseTheGuestPoweredOff() {
        long readyBefore = serial.count(SerialConsole.READY);
        vms().start(VM);
        serial.awaitLine(SerialConsole.READY, readyBefore + 1, BOOT);

        VmStatus off = vms().shutDown(VM, Duration.ofSeconds(60));
        assertThat(off.state()).isEqualTo(VmState.OFF);
        assertThat(off.reason()).isEqualTo("shut down by the guest on request");
        assertThat(serial.text()).contains("HYPERVISE-POWEROFF");
        assertThat(host.workers()).isEmpty();
    }

    private long pauseAndCheckCounterStops() {
        vms().pause(VM);
        long atPause = serial.lastCounter().orElseThrow();
        SerialConsole.sleep(2500);
        assertThat(serial.lastCounter().orElseThrow()).isEqualTo(atPause);
        return atPause;
    }
}
