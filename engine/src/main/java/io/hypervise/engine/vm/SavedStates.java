package io.hypervise.engine.vm;

import io.hypervise.engine.EngineSettings;
import io.hypervise.engine.qmp.QemuMonitor;
import io.hypervise.engine.vm.worker.Worker;
import io.hypervise.engine.vm.worker.WorkerPhase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Saving a VM's memory and device state to a file and restoring it, through QEMU's migration stream.
 * Every method expects the VM's lock to be held by the caller.
 */
final class SavedStates {

    /** QEMU's default migration bandwidth limit (32 MiB/s) is meant for live migration over a network. */
    private static final long SAVE_BANDWIDTH = 8L << 30;

    private final EngineSettings settings;
    private final WorkerSupervisor supervisor;
    private final VmStore store;
    private final Clock clock;

    SavedStates(EngineSettings settings, WorkerSupervisor supervisor, VmStore store, Clock clock) {
        this.settings = settings;
        this.supervisor = supervisor;
        this.store = store;
        this.clock = clock;
    }

    /** Stops the guest, streams its state to the saved-state file, and ends the worker: the VM is Saved. */
    void save(ManagedVm vm) {
        VmState before = vm.state();
        boolean wasPaused = before == VmState.PAUSED;
        Worker worker = vm.worker();
        vm.transition(VmState.SAVING, "save requested");
        supervisor.recordPhase(vm, vm.record().savingFrom(wasPaused));
        Path socket = vm.files().saveSocket();
        try {
            if (!wasPaused) {
                vm.command(QemuMonitor::stop);
            }
            vm.command(m -> m.migrateSetMaxBandwidth(SAVE_BANDWIDTH));
            CompletableFuture<Long> received = SavedStateStream.receive(socket, vm.files().savedStatePartial(),
                    n -> vm.progress(VmAction.SAVE, n, vm.definition().memoryMib() * (1L << 20)));
            supervisor.handOver(vm, socket);
            vm.command(m -> m.migrate(socket));
            awaitMigration(vm, "saving");
            long bytes = received.get(settings.saveTimeout().toMillis(), TimeUnit.MILLISECONDS);
            Files.move(vm.files().savedStatePartial(), vm.files().savedState(), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            store.writeSaved(vm.files(), new SavedState(clock.instant(), bytes, wasPaused));
        } catch (IOException | VmOperationException | ExecutionException | TimeoutException e) {
            throw abandon(vm, worker, before, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw abandon(vm, worker, before, e);
        }
        supervisor.end(vm, VmState.SAVED, "saved");
    }

    /** Starts a worker that loads the saved state, then resumes it (unless it was saved paused). */
    void restore(ManagedVm vm) {
        SavedState saved = store.readSaved(vm.files()).orElseThrow(() -> new VmOperationException(
                "VM '" + vm.name() + "' is Saved but its saved state is missing from " + vm.files().dir()));
        vm.transition(VmState.RESTORING, "restore requested");
        Worker worker = supervisor.launch(vm, true, WorkerPhase.RESTORING);
        Path socket = vm.files().restoreSocket();
        try {
            vm.command(m -> m.migrateIncoming(socket));
            SavedStateStream.send(socket, vm.files().savedState(), settings.qmpConnectTimeout(),
                    n -> vm.progress(VmAction.START, n, saved.bytes()));
            awaitMigration(vm, "restoring");
            supervisor.applyResources(vm, worker, vm.definition(), null);
            if (!saved.paused()) {
                vm.command(QemuMonitor::cont);
            }
        } catch (IOException | VmOperationException e) {
            throw supervisor.failAndEnd(vm, worker, VmState.SAVED, "restoring failed; the saved state is kept: " + e.getMessage());
        }
        // The running guest has moved on from the saved state: keeping it would invite restoring the past.
        store.clearSaved(vm.files());
        supervisor.recordPhase(vm, vm.record().withPhase(WorkerPhase.SUPERVISED));
        vm.transition(saved.paused() ? VmState.PAUSED : VmState.RUNNING,
                "restored from the state saved at " + saved.savedAt() + " (worker " + worker.pid() + ")");
    }

    /** Puts the VM back as it was before a failed save; returns the failure for the caller to throw. */
    private VmOperationException abandon(ManagedVm vm, Worker worker, VmState before, Exception cause) {
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        if (cause instanceof ExecutionException && cause.getCause() != null) {
            message = cause.getCause().getMessage();
        }
        String reason = "saving failed: " + message;
        try {
            vm.command(QemuMonitor::migrateCancel);
            if (before == VmState.RUNNING) {
                vm.command(QemuMonitor::cont);
            }
        } catch (VmOperationException e) {
            return supervisor.failAndEnd(vm, worker, VmState.OFF, reason + "; the worker then failed too: " + e.getMessage());
        }
        store.clearSaved(vm.files());
        supervisor.recordPhase(vm, vm.record().withPhase(WorkerPhase.SUPERVISED));
        vm.transition(before, reason);
        return new VmOperationException("could not save VM '" + vm.name() + "': " + message, cause);
    }

    /** Polls the migration until it completes; a failed or stalled one is an error. */
    private void awaitMigration(ManagedVm vm, String what) {
        long deadline = System.nanoTime() + settings.saveTimeout().toNanos();
        while (System.nanoTime() < deadline) {
            QemuMonitor.MigrationInfo info = vm.query(QemuMonitor::queryMigrate);
            if (info.completed()) {
                return;
            }
            if (info.failed()) {
                throw new VmOperationException(what + " VM '" + vm.name() + "' failed: migration " + info.status()
                        + info.error().map(e -> " (" + e + ")").orElse(""));
            }
            pause();
        }
        throw new VmOperationException(what + " VM '" + vm.name() + "' did not finish within "
                + settings.saveTimeout().toSeconds() + " s");
    }

    private static void pause() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("interrupted while waiting for a migration", e);
        }
    }
}
