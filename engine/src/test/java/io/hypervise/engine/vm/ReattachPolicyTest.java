package io.hypervise.engine.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.guest.TestHost;
import io.hypervise.engine.host.Accelerator;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.worker.ProcessIdentity;
import io.hypervise.engine.vm.worker.QemuCommandLine;
import io.hypervise.engine.vm.worker.VmFiles;
import io.hypervise.engine.vm.worker.Worker;
import io.hypervise.engine.vm.worker.WorkerPhase;
import io.hypervise.engine.vm.worker.WorkerRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What a starting engine does with the worker records an earlier engine left behind. */
class ReattachPolicyTest {

    private TestHost host;
    private VmStore store;
    private Process stranger;

    @BeforeEach
    void setUp() throws Exception {
        host = TestHost.create();
        store = new VmStore(host.stateDir());
    }

    @AfterEach
    void tearDown() throws Exception {
        if (stranger != null) {
            stranger.destroyForcibly().waitFor();
        }
        host.close();
    }

    @Test
    void aRecordedPidNowUsedByAnotherProcessIsNeverSignalled() throws Exception {
        define("reuse");
        stranger = new ProcessBuilder("sleep", "300").start();
        long ticks = ProcessIdentity.startTicks(stranger.pid()).orElseThrow();
        store.writeWorker(store.filesOf("reuse"),
                new WorkerRecord(stranger.pid(), ticks, WorkerPhase.SUPERVISED, false, Instant.now()));

        try (Engine engine = host.openEngine()) {
            VmStatus status = engine.vms().status("reuse");
            assertThat(status.state()).isEqualTo(VmState.OFF);
            assertThat(status.reason()).contains("PID " + stranger.pid()).contains("no longer running");
            assertThat(status.workerPid()).isEmpty();
        }
        assertThat(stranger.isAlive()).as("the unrelated process was left alone").isTrue();
        assertThat(store.filesOf("reuse").worker()).doesNotExist();
    }

    @Test
    void aWorkerHalfStartedWhenTheLastEngineStoppedIsTurnedOff() throws Exception {
        VmDefinition def = define("half");
        VmFiles files = store.filesOf("half");
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        // Exactly what an engine does before it resumes a new worker: launched paused, record in LAUNCHING.
        Worker worker = Worker.launch(new QemuCommandLine(qemu, Accelerator.TCG).build(def, files, p -> p, false), files);
        store.writeWorker(files, new WorkerRecord(worker.pid(), worker.startTicks(), WorkerPhase.LAUNCHING, false, Instant.now()));
        awaitSocket(files.qmpSocket());

        try (Engine engine = host.openEngine()) {
            VmStatus status = engine.vms().status("half");
            assertThat(status.state()).isEqualTo(VmState.OFF);
            assertThat(status.reason()).contains("half-started");
        }
        assertThat(worker.exit().get(10, TimeUnit.SECONDS)).isNotNull();
        assertThat(host.workers()).isEmpty();
    }

    @Test
    void aWorkerStartedBeforeSocketsMovedToTheRunFolderIsStillFoundAndTurnedOff() throws Exception {
        VmDefinition def = define("legacy");
        VmFiles files = store.filesOf("legacy");
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        // What an engine of before confinement ran: the QMP socket in the VM's folder, a record without a user.
        java.util.List<String> argv = new QemuCommandLine(qemu, Accelerator.TCG).build(def, files, p -> p, false).stream()
                .map(a -> a.replace("/run/qmp.sock", "/qmp.sock")).toList();
        Worker worker = Worker.launch(argv, files);
        store.writeWorker(files, new WorkerRecord(worker.pid(), worker.startTicks(), WorkerPhase.SUPERVISED, false, Instant.now()));
        awaitSocket(files.dir().resolve("qmp.sock"));

        try (Engine engine = host.openEngine()) {
            VmStatus status = engine.vms().status("legacy");
            assertThat(status.state()).isEqualTo(VmState.PAUSED); // started with -S, never resumed
            assertThat(status.workerPid()).hasValue(worker.pid());
            assertThat(engine.vms().turnOff("legacy").state()).isEqualTo(VmState.OFF);
        }
        assertThat(worker.exit().get(10, TimeUnit.SECONDS)).isNotNull();
        assertThat(host.workers()).isEmpty();
    }

    private VmDefinition define(String id) throws Exception {
        try (Engine engine = host.openEngine()) {
            return engine.vms().define(host.tinyLinux(id).build()).definition();
        }
    }

    private static void awaitSocket(Path socket) throws InterruptedException {
        for (int i = 0; i < 200 && !Files.exists(socket); i++) {
            Thread.sleep(25);
        }
        assertThat(socket).exists();
    }
}
