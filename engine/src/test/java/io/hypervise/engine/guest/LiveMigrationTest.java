package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.IncomingEndpoint;
import io.hypervise.engine.vm.IncomingOptions;
import io.hypervise.engine.vm.MigrationOptions;
import io.hypervise.engine.vm.MigrationResult;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStateException;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.Vms;
import io.hypervise.engine.vm.VmOperationException;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Live migration between two engines, each with its own state directory and storage root (two hosts, as far as
 * the engine can tell), of one real tiny-linux guest that counts once a second on its serial console. The tests
 * share the guest and run in order: it moves A to B with its disk copied while it runs, then two attempts to bring
 * it back fail (the target's worker killed; a cancel) and each time it runs on at B.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LiveMigrationTest {

    private static final Duration BOOT = Duration.ofSeconds(90);
    private static final String VM = "mover";
    private static final long DISK = 64L << 20;
    /** Slow enough that the tests can break a migration while its memory is on the way. */
    private static final MigrationOptions SLOW = new MigrationOptions(4L << 20, Duration.ofMillis(300), Duration.ofMinutes(5));

    private TestHost hostA;
    private TestHost hostB;
    private Engine engineA;
    private Engine engineB;
    private Path diskOnA;

    @BeforeAll
    void bootTheGuestOnA() throws Exception {
        hostA = TestHost.create();
        hostB = TestHost.create();
        engineA = hostA.openEngine();
        engineB = hostB.openEngine();
        a().define(definitionOn(hostA), Map.of(0, DISK));
        diskOnA = a().status(VM).definition().disks().get(0).path();
        a().start(VM);
        SerialConsole serial = new SerialConsole(a().serialLog(VM));
        serial.awaitLine(SerialConsole.READY, 1, BOOT);
        serial.awaitLine("hv-stamped vda moved", 1, Duration.ofSeconds(30));
        serial.awaitCounterAbove(2, Duration.ofSeconds(30));
    }

    @AfterAll
    void leaveNothingBehind() throws Exception {
        try {
            for (Engine engine : new Engine[] {engineA, engineB}) {
                if (engine != null) {
                    engine.close();
                }
            }
        } finally {
            hostA.close();
            hostB.close();
        }
        assertThat(hostA.workers()).as("workers left on A").isEmpty();
        assertThat(hostB.workers()).as("workers left on B").isEmpty();
    }

    private Vms a() {
        return engineA.vms();
    }

    private Vms b() {
        return engineB.vms();
    }

    /** The VM as {@code host} runs it: its kernel from that host's library, its disk made there. */
    private static VmDefinition definitionOn(TestHost host) {
        return host.tinyLinux(VM, "hv.stamp=moved").withDisks(new Disk(null, DiskFormat.RAW, false)).build();
    }

    @Test
    @Order(1)
    void badRequestsAreRefusedNamingTheFieldAndLeaveBothHostsAsTheyWere() {
        assertThatThrownBy(() -> b().receive(definitionOn(hostB), IncomingOptions.on("127.0.0.1", Map.of(3, DISK))))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("disks[3]");
        assertThatThrownBy(() -> b().receive(definitionOn(hostB), IncomingOptions.on("127.0.0.1", Map.of(0, -1L))))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("disks[0].bytes");
        assertThatThrownBy(() -> b().receive(definitionOn(hostB), IncomingOptions.on("192.0.2.1", Map.of(0, DISK))))
                .isInstanceOf(VmOperationException.class)
                .hasMessageContaining("cannot listen for a live migration on 192.0.2.1");
        assertThat(b().list()).isEmpty();
        assertThat(hostB.workers()).isEmpty();
        assertThat(hostB.storageRoot().resolve("vms")).satisfiesAnyOf(
                dir -> assertThat(dir).doesNotExist(), dir -> assertThat(dir).isEmptyDirectory());
        assertThatThrownBy(() -> a().abortIncoming(VM))
                .isInstanceOf(VmStateException.class)
                .hasMessageContaining("is not arriving from another host");
        assertThat(a().status(VM).state()).isEqualTo(VmState.RUNNING);
    }

    @Test
    @Order(2)
    void aCountingGuestMovesLiveWithItsDiskAndItsCounterGoesOnWithoutRestartingOrSkipping() throws Exception {
        Map<Integer, Long> disks = a().localDiskSizes(VM);
        assertThat(disks).isEqualTo(Map.of(0, DISK));
        IncomingEndpoint endpoint = b().receive(definitionOn(hostB), IncomingOptions.on("127.0.0.1", disks));
        assertThat(b().status(VM).state()).isEqualTo(VmState.MIGRATING);
        CounterWatch watch = new CounterWatch(a().serialLog(VM), b().serialLog(VM));
        List<Long> percents = new CopyOnWriteArrayList<>();
        MigrationResult result;
        try {
            result = a().migrateOut(VM, endpoint, MigrationOptions.defaults(), percents::add, () -> false,
                    () -> b().finishIncoming(VM, false));
        } finally {
            watch.keepWatchingFor(Duration.ofSeconds(4));
        }
        System.out.printf("live migration A->B: downtime %d ms (QEMU), RAM total time %d ms, whole operation %d ms,"
                + " %d RAM bytes, %d disk bytes; counter: last on A %d, first on B %d, %d ms apart%n",
                result.downtimeMillis(), result.totalMillis(), result.elapsedMillis(), result.ramBytes(),
                result.diskBytes(), watch.lastOnA(), watch.firstOnB(), watch.gapMillis());

        assertThat(b().status(VM).state()).isEqualTo(VmState.RUNNING);
        assertThat(a().find(VM)).as("the VM has left A").isEmpty();
        assertThat(hostA.workers()).as("A's worker is gone").isEmpty();
        assertThat(hostB.workers()).hasSize(1);
        assertThat(watch.firstOnB()).as("B's first count follows A's last: the guest's memory came along, it did not"
                + " restart and did not skip").isEqualTo(watch.lastOnA() + 1);
        assertThat(watch.gapMillis()).as("the counter paused at most a tick plus the measured downtime (and what"
                + " reading two serial logs costs)").isLessThan(1000 + result.downtimeMillis() + 1500);
        assertThat(result.downtimeMillis()).isPositive();
        assertThat(result.diskBytes()).isEqualTo(DISK);
        assertThat(percents).isSortedAccordingTo(Long::compare).last().isEqualTo(100L);
        assertThat(result.removed()).containsExactly(diskOnA);
        assertThat(diskOnA).doesNotExist();
        Path diskOnB = b().status(VM).definition().disks().get(0).path();
        assertThat(diskOnB.startsWith(hostB.storageRoot())).isTrue();
        try (InputStream in = Files.newInputStream(diskOnB)) {
            assertThat(new String(in.readNBytes(14), StandardCharsets.US_ASCII)).as("what the guest wrote on A")
                    .isEqualTo("hv-stamp:moved");
        }
        SerialConsole serialB = new SerialConsole(b().serialLog(VM));
        serialB.awaitCounterAbove(watch.firstOnB() + 2, Duration.ofSeconds(20));
    }

    @Test
    @Order(3)
    void aMigrationWhoseTargetDiesMidWayLeavesTheGuestRunningOnTheSource() {
        IncomingEndpoint endpoint = a().receive(definitionOn(hostA), IncomingOptions.on("127.0.0.1", b().localDiskSizes(VM)));
        long targetPid = a().status(VM).workerPid().orElseThrow();
        AtomicBoolean killed = new AtomicBoolean();
        List<Long> percents = new CopyOnWriteArrayList<>();
        SerialConsole serialB = new SerialConsole(b().serialLog(VM));

        assertThatThrownBy(() -> b().migrateOut(VM, endpoint, SLOW, percent -> {
            percents.add(percent);
            if (percent >= 45 && killed.compareAndSet(false, true)) {
                ProcessHandle.of(targetPid).ifPresent(ProcessHandle::destroyForcibly);
            }
        }, () -> false, () -> a().finishIncoming(VM, false)))
                .isInstanceOf(VmOperationException.class)
                .hasMessageContaining("runs on here");
        System.out.println("target killed at " + percents.getLast() + "% (progress seen: " + percents + ")");

        assertThat(killed).as("the target was killed mid-way").isTrue();
        VmStatus onB = b().status(VM);
        assertThat(onB.state()).isEqualTo(VmState.RUNNING);
        assertThat(onB.reason()).startsWith("live migration failed");
        long at = serialB.lastCounter().orElseThrow();
        serialB.awaitCounterAbove(at + 2, Duration.ofSeconds(20));

        List<Path> removed = a().abortIncoming(VM);
        assertThat(removed).isNotEmpty().allSatisfy(p -> assertThat(p).doesNotExist());
        assertThat(a().find(VM)).isEmpty();
        assertThat(hostA.workers()).as("no worker left on the target").isEmpty();
        assertThat(hostB.workers()).hasSize(1);
    }

    @Test
    @Order(4)
    void aTargetGoneBeforeTheDisksAreCopiedFailsAtOnceAndTheGuestRunsOn() throws Exception {
        IncomingEndpoint endpoint = a().receive(definitionOn(hostA), IncomingOptions.on("127.0.0.1", b().localDiskSizes(VM)));
        ProcessHandle target = ProcessHandle.of(a().status(VM).workerPid().orElseThrow()).orElseThrow();
        target.destroyForcibly();
        target.onExit().get();
        SerialConsole serialB = new SerialConsole(b().serialLog(VM));

        assertThatThrownBy(() -> b().migrateOut(VM, endpoint, SLOW, p -> { }, () -> false, () -> a().finishIncoming(VM, false)))
                .isInstanceOf(VmOperationException.class)
                .hasMessageContaining("runs on here");

        assertThat(b().status(VM).state()).isEqualTo(VmState.RUNNING);
        serialB.awaitCounterAbove(serialB.lastCounter().orElseThrow() + 1, Duration.ofSeconds(20));
        assertThat(a().abortIncoming(VM)).isNotEmpty().allSatisfy(p -> assertThat(p).doesNotExist());
        assertThat(hostA.workers()).isEmpty();
    }

    @Test
    @Order(5)
    void aCancelledMigrationLeavesTheGuestRunningOnTheSourceAndNothingOnTheTarget() {
        IncomingEndpoint endpoint = a().receive(definitionOn(hostA), IncomingOptions.on("127.0.0.1", b().localDiskSizes(VM)));
        AtomicBoolean cancel = new AtomicBoolean();
        List<Long> percents = new CopyOnWriteArrayList<>();
        SerialConsole serialB = new SerialConsole(b().serialLog(VM));

        assertThatThrownBy(() -> b().migrateOut(VM, endpoint, SLOW, percent -> {
            percents.add(percent);
            if (percent >= 45) {
                cancel.set(true);
            }
        }, cancel::get, () -> a().finishIncoming(VM, false)))
                .isInstanceOf(VmOperationException.class)
                .hasMessage("the live migration of VM 'mover' was cancelled");
        System.out.println("cancelled at " + percents.getLast() + "%");

        assertThat(b().status(VM).state()).isEqualTo(VmState.RUNNING);
        long at = serialB.lastCounter().orElseThrow();
        serialB.awaitCounterAbove(at + 2, Duration.ofSeconds(20));
        assertThat(a().abortIncoming(VM)).isNotEmpty().allSatisfy(p -> assertThat(p).doesNotExist());
        assertThat(a().find(VM)).isEmpty();
        assertThat(hostA.workers()).isEmpty();
        assertThat(hostB.workers()).hasSize(1);
    }

    /** The target dies after the memory arrived but before it resumed the guest: the source takes it back. */
    @Test
    @Order(6)
    void aHandOverThatFailsAfterEverythingWasSentLeavesTheGuestRunningOnTheSource() {
        IncomingEndpoint endpoint = a().receive(definitionOn(hostA), IncomingOptions.on("127.0.0.1", b().localDiskSizes(VM)));
        SerialConsole serialB = new SerialConsole(b().serialLog(VM));

        assertThatThrownBy(() -> b().migrateOut(VM, endpoint, MigrationOptions.defaults(), p -> { }, () -> false, () -> {
            a().abortIncoming(VM);
            throw new IllegalStateException("the target went away before it resumed the guest");
        }))
                .isInstanceOf(VmOperationException.class)
                .hasMessageContaining("the target went away before it resumed the guest; it runs on here");

        assertThat(b().status(VM).state()).isEqualTo(VmState.RUNNING);
        serialB.awaitCounterAbove(serialB.lastCounter().orElseThrow() + 2, Duration.ofSeconds(20));
        assertThat(a().find(VM)).isEmpty();
        assertThat(hostA.workers()).isEmpty();
        assertThat(hostB.workers()).hasSize(1);
    }

    @Test
    @Order(7)
    void afterTheFailuresItStillMovesBackAndCountsOn() {
        IncomingEndpoint endpoint = a().receive(definitionOn(hostA), IncomingOptions.on("127.0.0.1", b().localDiskSizes(VM)));
        CounterWatch watch = new CounterWatch(b().serialLog(VM), a().serialLog(VM));
        MigrationResult result;
        try {
            result = b().migrateOut(VM, endpoint, MigrationOptions.defaults(), p -> { }, () -> false,
                    () -> a().finishIncoming(VM, false));
        } finally {
            watch.keepWatchingFor(Duration.ofSeconds(4));
        }
        System.out.printf("live migration B->A: downtime %d ms, RAM total time %d ms, whole operation %d ms%n",
                result.downtimeMillis(), result.totalMillis(), result.elapsedMillis());
        assertThat(a().status(VM).state()).isEqualTo(VmState.RUNNING);
        assertThat(b().find(VM)).isEmpty();
        assertThat(hostB.workers()).isEmpty();
        assertThat(watch.firstOnB()).isEqualTo(watch.lastOnA() + 1);
    }

    /**
     * Notes, from a thread of its own, when each counter value first shows in the source's and the target's serial
     * logs: the test's clock for the guest's pause.
     */
    private static final class CounterWatch {
        private final SerialConsole source;
        private final SerialConsole target;
        private final Map<Long, Long> seenOnSource = new ConcurrentHashMap<>();
        private final Map<Long, Long> seenOnTarget = new ConcurrentHashMap<>();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final Thread thread;

        CounterWatch(Path sourceLog, Path targetLog) {
            this.source = new SerialConsole(sourceLog);
            this.target = new SerialConsole(targetLog);
            this.thread = Thread.ofPlatform().daemon().name("counter-watch").start(this::watch);
        }

        private void watch() {
            while (!stop.get()) {
                long now = System.nanoTime() / 1_000_000;
                note(source.lastCounter(), seenOnSource, now);
                note(target.lastCounter(), seenOnTarget, now);
                SerialConsole.sleep(20);
            }
        }

        private static void note(OptionalLong value, Map<Long, Long> seen, long now) {
            if (value.isPresent()) {
                seen.putIfAbsent(value.getAsLong(), now);
            }
        }

        void keepWatchingFor(Duration more) throws RuntimeException {
            SerialConsole.sleep(more.toMillis());
            stop.set(true);
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        long lastOnA() {
            return seenOnSource.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
        }

        long firstOnB() {
            return seenOnTarget.keySet().stream().mapToLong(Long::longValue).min().orElseThrow();
        }

        long gapMillis() {
            return seenOnTarget.get(firstOnB()) - seenOnSource.get(lastOnA());
        }
    }
}
