package io.hypervise.engine.vm;

import io.hypervise.engine.EngineSettings;
import io.hypervise.engine.qmp.QemuMonitor;
import io.hypervise.engine.storage.DiskImages;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import io.hypervise.engine.vm.definition.Violation;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.worker.Worker;
import io.hypervise.engine.vm.worker.WorkerPhase;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Checkpoints (Hyper-V's word for snapshots) as qcow2 internal snapshots, one tag in every writable disk
 * of the VM. Of a running or paused VM, QEMU's {@code snapshot-save} job keeps its memory and device state
 * as well (in its first such disk); of an Off VM, {@code qemu-img snapshot} keeps its disks. Internal
 * snapshots share clusters by reference count, so any of them can be applied or deleted in any order and
 * deleting one never changes what another holds: the tree is the server's record of which came from which.
 * Read-only disks never change and are left out; a writable disk that is not qcow2 cannot hold one, and a VM
 * with a host device passed through takes none.
 * Every method expects the VM's lock to be held by the caller.
 */
final class Checkpoints {

    private final EngineSettings settings;
    private final WorkerSupervisor supervisor;
    private final DiskImages images;

    Checkpoints(EngineSettings settings, WorkerSupervisor supervisor, DiskImages images) {
        this.settings = settings;
        this.supervisor = supervisor;
        this.images = images;
    }

    /** The positions of the disks a checkpoint covers, or a refusal naming each disk that cannot take one. */
    static List<Integer> covered(VmDefinition definition) {
        List<Integer> covered = new ArrayList<>();
        List<Violation> refusals = new ArrayList<>();
        for (int i = 0; i < definition.disks().size(); i++) {
            Disk disk = definition.disks().get(i);
            if (disk.hostDevice()) {
                refusals.add(new Violation("disks[" + i + "]", "is the host device " + disk.path() + ", passed through"
                        + " whole: no checkpoint can keep what is on it; remove it from the VM to take checkpoints"));
                continue;
            }
            if (disk.readOnly()) {
                continue;
            }
            if (disk.format() != DiskFormat.QCOW2) {
                refusals.add(new Violation("disks[" + i + "]", "is " + disk.format().name().toLowerCase(java.util.Locale.ROOT)
                        + " (" + disk.path().getFileName() + "): only qcow2 disks hold checkpoints; copy it to a qcow2"
                        + " disk or make it read-only"));
            } else {
                covered.add(i);
            }
        }
        if (refusals.isEmpty() && covered.isEmpty()) {
            refusals.add(new Violation("disks", "VM '" + definition.name() + "' has no writable disk to keep a checkpoint in"));
        }
        if (!refusals.isEmpty()) {
            throw new InvalidVmDefinitionException(refusals);
        }
        return covered;
    }

    /** Bytes the covered disks' files take now: what checkpoints add to is measured against it. */
    static long bytes(VmDefinition definition) {
        long total = 0;
        for (Disk disk : definition.disks()) {
            try {
                if (!disk.readOnly() && disk.path() != null && Files.isRegularFile(disk.path())) {
                    total += Files.size(disk.path());
                }
            } catch (IOException e) {
                // a disk that cannot be measured counts as nothing; its checkpoints are still taken
            }
        }
        return total;
    }

    /** Takes checkpoint {@code tag}; returns whether it holds the VM's memory (it was running or paused). */
    boolean take(ManagedVm vm, String tag) {
        List<Integer> disks = covered(vm.definition());
        if (vm.state() == VmState.OFF) {
            offline(vm, disks, "-c", tag);
            vm.log("checkpoint " + tag + " taken of its disks");
            return false;
        }
        runJob(vm, "checkpoint", id -> m -> m.snapshotSave(id, tag, node(vm, disks.get(0)), nodes(vm, disks)));
        vm.log("checkpoint " + tag + " taken with its memory");
        return true;
    }

    /**
     * The memory and device state checkpoint {@code tag} keeps, in bytes (0 for one of disks only, or of a VM
     * not running now): a lower bound of its real size, whatever room the disk file had free for it.
     */
    long stateBytes(ManagedVm vm, String tag) {
        if (vm.state() == VmState.OFF || vm.worker() == null) {
            return 0;
        }
        List<Integer> disks = covered(vm.definition());
        return vm.query(m -> m.snapshotStateBytes(node(vm, disks.get(0)), tag));
    }

    /**
     * Applies checkpoint {@code tag}: one with memory leaves the VM running exactly where it was when it was
     * taken (a worker is started for an Off VM); one of disks only is applied to an Off VM.
     */
    void apply(ManagedVm vm, String tag, boolean memory) {
        List<Integer> disks = covered(vm.definition());
        if (!memory) {
            if (vm.state() != VmState.OFF) {
                throw new VmStateException(VmAction.APPLY_CHECKPOINT, vm.state(), "VM '" + vm.name() + "' is "
                        + vm.state().displayName() + "; checkpoint " + tag + " was taken while it was Off and holds no"
                        + " memory: turn the VM off to apply it");
            }
            offline(vm, disks, "-a", tag);
            vm.log("checkpoint " + tag + " applied to its disks");
            return;
        }
        Worker worker;
        if (vm.state() == VmState.OFF) {
            vm.transition(VmState.STARTING, "applying checkpoint " + tag);
            worker = supervisor.launch(vm, false, WorkerPhase.LAUNCHING);
        } else {
            worker = vm.worker();
            if (vm.state() == VmState.RUNNING) {
                vm.command(QemuMonitor::stop);
            }
        }
        try {
            runJob(vm, "apply", id -> m -> m.snapshotLoad(id, tag, node(vm, disks.get(0)), nodes(vm, disks)));
            supervisor.applyResources(vm, worker, vm.definition(), null);
            vm.command(QemuMonitor::cont);
        } catch (VmOperationException e) {
            // Half-loaded memory is no guest at all: end the worker rather than resume it.
            throw supervisor.failAndEnd(vm, worker, VmState.OFF, "applying checkpoint " + tag + " failed: " + e.getMessage());
        }
        supervisor.recordPhase(vm, vm.record().withPhase(WorkerPhase.SUPERVISED));
        vm.transition(VmState.RUNNING, "checkpoint " + tag + " applied (worker " + worker.pid() + ")");
    }

    /** Deletes checkpoint {@code tag}; what it alone held is freed, what others share stays. */
    void delete(ManagedVm vm, String tag) {
        List<Integer> disks = covered(vm.definition());
        if (vm.state() == VmState.OFF) {
            offline(vm, disks, "-d", tag);
        } else {
            runJob(vm, "delete", id -> m -> m.snapshotDelete(id, tag, nodes(vm, disks)));
        }
        vm.log("checkpoint " + tag + " deleted");
    }

    private void offline(ManagedVm vm, List<Integer> disks, String operation, String tag) {
        for (int i : disks) {
            try {
                images.snapshot(vm.definition().disks().get(i), operation, tag);
            } catch (IOException e) {
                throw new VmOperationException("VM '" + vm.name() + "', disk " + i + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Runs a QEMU job and waits for it by its events, not by asking: QEMU 7's snapshot jobs run in its main
     * loop, so the monitor answers nothing until they end. Its error, if it failed, is the exception's message.
     */
    private void runJob(ManagedVm vm, String what, java.util.function.Function<String, JobStart> start) {
        String id = "hv-" + what + "-" + UUID.randomUUID();
        CompletableFuture<Void> concluded = vm.expect("job:" + id);
        try {
            vm.command(m -> start.apply(id).begin(m));
            concluded.get(settings.saveTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("VM '" + vm.name() + "': interrupted while its " + what + " job ran", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new VmOperationException("VM '" + vm.name() + "': its " + what + " job did not end within "
                    + settings.saveTimeout().toSeconds() + " s", e);
        } finally {
            vm.forget("job:" + id);
        }
        Optional<QemuMonitor.JobInfo> info = vm.query(m -> m.queryJob(id));
        if (info.isPresent()) {
            vm.command(m -> m.jobDismiss(id));
            if (info.get().error().isPresent()) {
                throw new VmOperationException("VM '" + vm.name() + "': " + what + " failed: " + info.get().error().get());
            }
        }
    }

    private static String node(ManagedVm vm, int disk) {
        return vm.definition().disks().get(disk).nodeName(disk);
    }

    private static List<String> nodes(ManagedVm vm, List<Integer> disks) {
        return disks.stream().map(i -> node(vm, i)).toList();
    }

    @FunctionalInterface
    private interface JobStart {
        void begin(QemuMonitor monitor) throws InterruptedException;
    }
}
