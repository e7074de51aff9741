package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmEvent;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.VmUnresponsiveException;
import io.hypervise.engine.vm.Vms;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A worker that stops answering (its QEMU process stopped with SIGSTOP, as a hung or swapped-out worker
 * would be): its own actions time out and say so, nothing else waits for it, it is shown as unresponsive,
 * and once it answers again the VM's state is what QEMU really did with the commands it had been sent.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HungWorkerTest {

    private static final String VM = "hung";
    /** EngineSettings' default command timeout. */
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);

    private TestHost host;
    private Engine engine;
    private SerialConsole serial;
    private final List<VmEvent> events = new CopyOnWriteArrayList<>();

    @BeforeAll
    void bootTheGuest() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
        engine.vms().addListener(events::add);
        engine.vms().define(host.tinyLinux(VM).build());
        serial = new SerialConsole(engine.vms().serialLog(VM));
        vms().start(VM);
        serial.awaitLine(SerialConsole.READY, 1, Duration.ofSeconds(60));
        serial.awaitCounterAbove(1, Duration.ofSeconds(20));
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
    }

    private Vms vms() {
        return engine.vms();
    }

    @Test
    void aPauseOfAStoppedWorkerTimesOutTheVmShowsUnresponsiveAndItsStateFollowsWhatQemuDidAfterwards()
            throws Exception {
        long pid = vms().status(VM).workerPid().orElseThrow();
        signal("STOP", pid);
        long atStop;
        try {
            long started = System.nanoTime();
            CompletableFuture<VmStatus> pause = CompletableFuture.supplyAsync(() -> vms().pause(VM));
            SerialConsole.sleep(1000);
            assertThat(pause).as("the pause waits for the worker").isNotDone();
            assertListingAnswersAtOnce();

            assertThatThrownBy(pause::get).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(VmUnresponsiveException.class)
                    .hasMessageContaining("'stop' got no response")
                    .hasMessageContaining("within 10 s")
                    .hasMessageContaining("PID " + pid);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the pause gave up at its deadline")
                    .isBetween(COMMAND_TIMEOUT, COMMAND_TIMEOUT.plusSeconds(3));

            VmStatus hung = vms().status(VM);
            assertThat(hung.state()).as("nothing is known to have happened").isEqualTo(VmState.RUNNING);
            assertThat(hung.unresponsive()).hasValueSatisfying(u ->
                    assertThat(u.reason()).isEqualTo("its QMP monitor did not answer 'stop' within 10 s"));
            // Published by the QMP reader as it gives up, which may come a moment after the caller hears of it.
            long published = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            while (events.stream().noneMatch(HungWorkerTest::becameUnresponsive) && System.nanoTime() < published) {
                SerialConsole.sleep(20);
            }
            assertThat(events).anyMatch(HungWorkerTest::becameUnresponsive);
            assertListingAnswersAtOnce();

            long refusedAt = System.nanoTime();
            assertThatThrownBy(() -> vms().restart(VM)).isInstanceOf(VmUnresponsiveException.class)
                    .hasMessageStartingWith("cannot restart VM 'hung': its worker has not answered since ")
                    .hasMessageEndingWith("only turning it off is possible until it answers again");
            assertThat(Duration.ofNanos(System.nanoTime() - refusedAt)).as("refused at once").isLessThan(Duration.ofSeconds(1));
            atStop = serial.lastCounter().orElseThrow();
        } finally {
            signal("CONT", pid);
        }

        // QEMU now reads the 'stop' it was sent while stopped and carries it out: the state says so.
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (vms().status(VM).unresponsive().isPresent() || vms().status(VM).state() != VmState.PAUSED) {
            assertThat(System.nanoTime()).as("answering again and paused: " + vms().status(VM)).isLessThan(deadline);
            SerialConsole.sleep(50);
        }
        VmStatus after = vms().status(VM);
        assertThat(after.reason()).contains("carrying out 'stop'").contains("which had got no reply in time");
        long cleared = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (events.stream().noneMatch(HungWorkerTest::answersAgain) && System.nanoTime() < cleared) {
            SerialConsole.sleep(20);
        }
        assertThat(events).anyMatch(HungWorkerTest::answersAgain);

        long atPause = serial.lastCounter().orElseThrow();
        SerialConsole.sleep(2500);
        assertThat(serial.lastCounter().orElseThrow()).as("the guest is really paused").isEqualTo(atPause)
                .isLessThanOrEqualTo(atStop + 2);

        assertThat(vms().resume(VM).state()).isEqualTo(VmState.RUNNING);
        serial.awaitCounterAbove(atPause, Duration.ofSeconds(20));
    }

    private void assertListingAnswersAtOnce() {
        long started = System.nanoTime();
        assertThat(vms().list()).extracting(VmStatus::id).containsExactly(VM);
        assertThat(vms().status(VM).state()).isEqualTo(VmState.RUNNING);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("listing time").isLessThan(Duration.ofMillis(500));
    }

    private static void signal(String signal, long pid) throws Exception {
        int exit = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start().waitFor();
        assertThat(exit).as("kill -" + signal + " " + pid).isZero();
    }

    private static boolean answersAgain(VmEvent e) {
        return e instanceof VmEvent.ResponsivenessChanged r && r.vmId().equals(VM) && r.unresponsive().isEmpty()
                && r.reason().startsWith("its QMP monitor answers again; shown as unresponsive since ");
    }

    private static boolean becameUnresponsive(VmEvent e) {
        return e instanceof VmEvent.ResponsivenessChanged r && r.vmId().equals(VM) && r.unresponsive().isPresent();
    }
}
