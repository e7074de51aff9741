package io.hypervise.engine.vm;

import io.hypervise.engine.EngineSettings;
import io.hypervise.engine.host.UefiFirmware;
import io.hypervise.engine.network.NetworkException;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.qmp.QemuMonitor;
import io.hypervise.engine.qmp.QmpClosedException;
import io.hypervise.engine.qmp.QmpEvent;
import io.hypervise.engine.qmp.QmpException;
import io.hypervise.engine.qmp.QmpListener;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.definition.VmDefinitionValidator;
import io.hypervise.engine.vm.worker.QemuCommandLine;
import io.hypervise.engine.vm.worker.Worker;
import io.hypervise.engine.vm.worker.WorkerCgroups;
import io.hypervise.engine.vm.worker.WorkerExit;
import io.hypervise.engine.vm.worker.WorkerJail;
import io.hypervise.engine.vm.worker.WorkerPhase;
import io.hypervise.engine.vm.worker.WorkerRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.UnaryOperator;

/**
 * Starts, watches, ends and re-attaches to VM workers, and settles each VM's state when its worker
 * ends, whoever ended it. Every method expects the VM's lock to be held by the caller.
 */
final class WorkerSupervisor {

    private static final Duration QUIT_GRACE = Duration.ofSeconds(5);

    private final EngineSettings settings;
    private final QemuCommandLine commandLine;
    private final VmDefinitionValidator validator;
    private final Optional<UefiFirmware> uefi;
    private final VmStore store;
    private final UnaryOperator<Path> resolve;
    private final VirtualSwitches switches;
    private final WorkerCgroups cgroups;
    private final WorkerJail jail;
    private final UnaryOperator<String> ownImages;
    private final Clock clock;
    private volatile boolean closed;

    WorkerSupervisor(EngineSettings settings, QemuCommandLine commandLine, VmDefinitionValidator validator,
            Optional<UefiFirmware> uefi, VmStore store, UnaryOperator<Path> resolve, VirtualSwitches switches,
            WorkerCgroups cgroups, WorkerJail jail, UnaryOperator<String> ownImages, Clock clock) {
        this.settings = settings;
        this.commandLine = commandLine;
        this.validator = validator;
        this.uefi = uefi;
        this.store = store;
        this.resolve = resolve;
        this.switches = switches;
        this.cgroups = cgroups;
        this.jail = jail;
        this.ownImages = ownImages;
        this.clock = clock;
    }

    /** Starts a worker for the VM (paused) and connects to it; on failure the VM falls back to Off or Saved. */
    Worker launch(ManagedVm vm, boolean incoming, WorkerPhase phase) {
        return launch(vm, incoming, phase, incoming ? VmState.SAVED : VmState.OFF);
    }

    /** {@link #launch(ManagedVm, boolean, WorkerPhase)}, falling back to {@code fallback} on failure. */
    Worker launch(ManagedVm vm, boolean incoming, WorkerPhase phase, VmState fallback) {
        try {
            validator.validate(vm.definition());
        } catch (InvalidVmDefinitionException e) {
            vm.transition(fallback, "cannot start: " + e.getMessage());
            throw e;
        }
        if (vm.definition().firmware() == Firmware.UEFI) {
            // A VM defined with BIOS and changed to UEFI gets its variables now (the validator saw the firmware).
            try {
                store.ensureUefiVariables(vm.files(), uefi.orElseThrow());
            } catch (UncheckedIOException e) {
                vm.transition(fallback, "cannot start: " + e.getMessage());
                throw new VmOperationException("cannot start VM '" + vm.name() + "': " + e.getMessage(), e);
            }
        }
        Optional<String> refused = jail.refusal();
        if (refused.isPresent()) {
            vm.transition(fallback, "cannot start: " + refused.get());
            throw new VmOperationException("cannot start VM '" + vm.name() + "': " + refused.get());
        }
        List<String> argv = commandLine.build(vm.definition(), vm.files(), resolve, incoming);
        WorkerJail.Owner owner = null;
        if (jail.confines()) {
            try {
                owner = jail.ownerOf(vm.files());
                jail.prepare(vm.definition(), vm.files(), owner, ownImages(vm), resolve);
                argv = jail.wrap(argv, vm.definition(), vm.files(), owner, uefi.map(UefiFirmware::code),
                        commandLine.accelerator() == io.hypervise.engine.host.Accelerator.KVM, resolve);
            } catch (IOException | UncheckedIOException e) {
                releaseJail(vm);
                vm.transition(fallback, "cannot start: its worker could not be confined: " + e.getMessage());
                throw new VmOperationException("cannot start VM '" + vm.name() + "': its worker could not be confined: "
                        + e.getMessage(), e);
            }
        }
        plugIn(vm, fallback, owner);
        Worker worker;
        try {
            store.clearWorker(vm.files());
            worker = Worker.launch(argv, vm.files());
        } catch (IOException | UncheckedIOException e) {
            unplug(vm);
            releaseJail(vm);
            vm.transition(fallback, "the worker could not be started: " + e.getMessage());
            throw new VmOperationException("cannot start VM '" + vm.name() + "': " + e.getMessage(), e);
        }
        vm.attach(worker, new WorkerRecord(worker.pid(), worker.startTicks(), phase, false, clock.instant(),
                owner == null ? 0 : owner.uid()));
        store.writeWorker(vm.files(), vm.record());
        watch(vm, worker);
        vm.log("worker " + worker.pid() + " launched: " + argv);
        try {
            worker.connect(settings.qmpConnectTimeout(), listenerFor(vm, worker));
        } catch (QmpException e) {
            throw failAndEnd(vm, worker, fallback, "the worker did not open its QMP socket: " + e.getMessage());
        }
        try {
            // Still paused: the guest runs not one instruction outside its limits. An incoming state brings its
            // own balloon; the caller sets it again once that is loaded.
            applyResources(vm, worker, vm.definition(), Resources.NONE);
        } catch (VmOperationException e) {
            throw failAndEnd(vm, worker, fallback, e.getMessage());
        }
        return worker;
    }

    /**
     * Puts the worker in its cgroup with the definition's CPU weight and cap and memory reservation, gives its
     * disks the definition's I/O limits (one QEMU throttle group for them all), asks the guest to keep the
     * balloon's target and limits the bandwidth of each of its switch ports. {@code inForce} is what the worker
     * has now (NONE for one just launched, null where that is not known, as after loading a state): disks, balloon
     * and ports are only touched when there is a limit or target to set or one in force to lift. Applying what is
     * there already changes nothing.
     */
    void applyResources(ManagedVm vm, Worker worker, VmDefinition def, Resources inForce) {
        Resources r = def.resources();
        try {
            cgroups.apply(vm.id(), worker.pid(), def.vcpus(), r);
        } catch (IOException e) {
            if (r.controlsCpu() || r.memoryReservationMib() != null) {
                throw new VmOperationException("VM '" + vm.name() + "': its cgroup could not be set up: " + e.getMessage(), e);
            }
            vm.log("its worker could not be put in a cgroup of its own (it has no CPU or memory controls): " + e.getMessage());
        }
        long bytes = r.diskBytesPerSecond() == null ? 0 : r.diskBytesPerSecond();
        long iops = r.diskIops() == null ? 0 : r.diskIops();
        boolean disks = inForce == null || r.limitsDisks() || inForce.limitsDisks();
        for (int i = 0; disks && i < def.disks().size(); i++) {
            String device = QemuCommandLine.diskBackendDevice(def.disks().get(i).nodeName(i), def.profile());
            vm.command(m -> m.setIoThrottle(device, bytes, iops, QemuCommandLine.THROTTLE_GROUP));
        }
        boolean balloon = inForce == null || r.balloonTargetMib() != null || inForce.balloonTargetMib() != null;
        if (balloon && def.profile() == DeviceProfile.ENLIGHTENED) {
            long target = (long) (r.balloonTargetMib() == null ? def.memoryMib() : r.balloonTargetMib()) << 20;
            vm.command(m -> m.balloon(target));
        }
        boolean ports = inForce == null || r.limitsNetwork() || inForce.limitsNetwork();
        List<Nic> nics = def.nics();
        for (int i = 0; ports && i < nics.size(); i++) {
            if (nics.get(i).onSwitch()) {
                limitPort(vm, r, nics.get(i).slot(i));
            }
        }
    }

    /**
     * Gives the VM's switch port {@code slot} the network limits of {@code r} (none lifts them). Adapters on the
     * isolated network have no port and no limits: QEMU's user networking has nothing to shape with.
     */
    void limitPort(ManagedVm vm, Resources r, int slot) {
        try {
            switches.limit(vm.id(), slot, r.networkReceiveBitsPerSecond(), r.networkTransmitBitsPerSecond());
        } catch (NetworkException e) {
            throw new VmOperationException("VM '" + vm.name() + "': the bandwidth of its switch port " + slot
                    + " could not be limited: " + e.getMessage(), e);
        }
    }

    /** Gives each adapter on a switch its port (the VM's user's, when confined); the worker opens them by name. */
    private void plugIn(ManagedVm vm, VmState fallback, WorkerJail.Owner owner) {
        List<Nic> nics = vm.definition().nics();
        try {
            for (int i = 0; i < nics.size(); i++) {
                if (nics.get(i).onSwitch()) {
                    switches.plug(vm.id(), nics.get(i).slot(i), nics.get(i).switchId(), nics.get(i).vlan(),
                            owner == null ? null : owner.uid());
                }
            }
        } catch (NetworkException e) {
            unplug(vm);
            vm.transition(fallback, "cannot start: network adapter: " + e.getMessage());
            throw new VmOperationException("cannot start VM '" + vm.name() + "': " + e.getMessage(), e);
        }
    }

    /** Removes the VM's switch ports once its worker is gone; a failure is logged, never blocks the VM's state. */
    private void unplug(ManagedVm vm) {
        if (vm.definition().nics().stream().noneMatch(Nic::onSwitch)) {
            return;
        }
        try {
            List<Nic> nics = vm.definition().nics();
            switches.unplug(vm.id(), java.util.stream.IntStream.range(0, nics.size()).map(i -> nics.get(i).slot(i)).boxed().toList());
        } catch (NetworkException e) {
            vm.log("its switch ports could not be removed: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- confinement

    private Path ownImages(ManagedVm vm) {
        return Path.of(ownImages.apply(vm.id()));
    }

    /** The user the VM's running worker is, to own what it is given while it runs; null when not confined. */
    Integer workerUser(ManagedVm vm) {
        WorkerRecord record = vm.record();
        return record == null || record.uid() == null || record.uid() == 0 ? null : record.uid();
    }

    /**
     * The disk as the VM's running worker sees it: when confined, its image (and its base) mounted into the VM's
     * media folder, the image given to the VM's user if writable; as it is otherwise.
     */
    Disk expose(ManagedVm vm, Disk disk) {
        if (workerUser(vm) == null || disk.path() == null) {
            return disk;
        }
        Disk.Backing backing = disk.backing() == null ? null
                : new Disk.Backing(exposeFile(vm, resolve.apply(disk.backing().path()), false), disk.backing().format());
        Path image = disk.hostDevice() ? disk.path() : resolve.apply(disk.path());
        return disk.at(exposeFile(vm, image, !disk.readOnly()), backing);
    }

    /** A CD's image as the VM's running worker sees it (see {@link #expose(ManagedVm, Disk)}). */
    Path exposeMedium(ManagedVm vm, Path iso) {
        return workerUser(vm) == null ? iso : exposeFile(vm, iso, false);
    }

    /** Hides a disk that left the running VM from its worker again, and gives its image back. */
    void withdraw(ManagedVm vm, Disk disk) {
        if (workerUser(vm) == null) {
            return;
        }
        try {
            jail.withdraw(vm.files(), disk.hostDevice() ? disk.path() : resolve.apply(disk.path()));
            if (disk.backing() != null) {
                jail.withdraw(vm.files(), resolve.apply(disk.backing().path()));
            }
        } catch (IOException | RuntimeException e) {
            vm.log("a removed disk's image stays mounted in its worker's media folder until it stops: " + e.getMessage());
        }
    }

    /** Lets the VM's confined worker connect to a socket the engine listens on. */
    void handOver(ManagedVm vm, Path socket) throws IOException {
        Integer uid = workerUser(vm);
        if (uid != null) {
            jail.handOver(socket, jail.ownerOf(vm.files()));
        }
    }

    private Path exposeFile(ManagedVm vm, Path file, boolean writable) {
        try {
            return jail.expose(vm.files(), jail.ownerOf(vm.files()), file, writable, ownImages(vm));
        } catch (IOException e) {
            throw new VmOperationException("VM '" + vm.name() + "': " + file.getFileName()
                    + " could not be made visible to its confined worker: " + e.getMessage(), e);
        }
    }

    /** Undoes what confining the worker set up; a failure is logged, never blocks the VM's state. */
    private void releaseJail(ManagedVm vm) {
        if (!jail.confines()) {
            return;
        }
        try {
            jail.release(vm.files());
        } catch (IOException | RuntimeException e) {
            vm.log("what its confined worker was given could not all be taken back: " + e.getMessage());
        }
    }

    /** Records what the worker is doing now, for an engine that may have to re-attach to it. */
    void recordPhase(ManagedVm vm, WorkerRecord record) {
        vm.record(record);
        store.writeWorker(vm.files(), record);
    }

    /**
     * Ends a worker that failed part-way through an action and settles the state; returns the failure
     * for the caller to throw.
     */
    VmOperationException failAndEnd(ManagedVm vm, Worker worker, VmState target, String reason) {
        String log = worker.logTail();
        String full = log.isEmpty() ? reason : reason + " (worker log: " + log + ")";
        if (vm.worker() == worker) {
            end(vm, target, full);
        }
        return new VmOperationException("VM '" + vm.name() + "': " + full);
    }

    /**
     * Ends the VM's worker and settles on {@code target}: asks QEMU to quit (which flushes disk caches),
     * and kills it if it has not gone within a few seconds.
     */
    void end(ManagedVm vm, VmState target, String reason) {
        Worker worker = vm.worker();
        if (worker == null) {
            vm.transition(target, reason);
            return;
        }
        worker.expect(target, reason);
        askToQuit(vm, worker);
        Optional<WorkerExit> exit = await(worker, QUIT_GRACE);
        if (exit.isEmpty()) {
            worker.kill();
            exit = await(worker, QUIT_GRACE);
        }
        handleExit(vm, worker, exit.orElse(WorkerExit.unknown()));
    }

    /** Settles the VM after its worker ended, once per worker, whichever path noticed the end first. */
    void handleExit(ManagedVm vm, Worker worker, WorkerExit exit) {
        if (vm.worker() != worker) {
            return;
        }
        vm.detach(worker);
        worker.detach();
        store.clearWorker(vm.files());
        unplug(vm);
        cgroups.remove(vm.id());
        releaseJail(vm);
        Worker.Intent intent = worker.intent().orElse(null);
        if (intent != null) {
            vm.transition(intent.target(), intent.reason());
            return;
        }
        if (worker.shutdownReason().filter(r -> r.startsWith("guest")).isPresent()) {
            vm.transition(VmState.OFF, "the guest powered off (" + worker.shutdownReason().get() + ")");
            return;
        }
        String log = worker.logTail();
        vm.transition(VmState.OFF, "worker " + worker.pid() + " ended unexpectedly: " + exit.description()
                + (log.isEmpty() ? "" : " (worker log: " + log + ")"));
    }

    /** Finds the VM's worker again after an engine restart and decides what it is now. */
    void reattach(ManagedVm vm) {
        store.clearPartialSave(vm.files());
        Optional<WorkerRecord> record = store.readWorker(vm.files());
        if (record.isEmpty()) {
            settleWithoutWorker(vm, "off when the engine started");
            return;
        }
        Optional<Worker> adopted = Worker.adopt(record.get(), QemuCommandLine.workerName(vm.id()), vm.files());
        if (adopted.isEmpty()) {
            store.clearWorker(vm.files());
            settleWithoutWorker(vm, "its worker (PID " + record.get().pid() + ") was no longer running when the engine started");
            return;
        }
        Worker worker = adopted.get();
        vm.attach(worker, record.get());
        watch(vm, worker);
        try {
            worker.connect(settings.qmpConnectTimeout(), listenerFor(vm, worker));
            resumeSupervision(vm, worker, record.get());
        } catch (QmpException | VmOperationException e) {
            // Killing a guest because its worker is slow to answer would lose it; say so and let a person decide.
            worker.watchWithoutQmp();
            vm.found(VmState.RUNNING, "re-attached to worker " + worker.pid() + ", but it does not answer QMP ("
                    + e.getMessage() + "); turn the VM off to recover");
            vm.silent(worker, "it did not answer QMP when the engine re-attached to it");
        }
    }

    /** From now on, worker ends are no longer this supervisor's to report: a new engine will. */
    void close() {
        closed = true;
    }

    private void settleWithoutWorker(ManagedVm vm, String reasonIfOff) {
        unplug(vm); // ports its worker left behind when it ended while no engine watched
        releaseJail(vm); // and its media mounts and the files it was given
        Optional<SavedState> saved = store.readSaved(vm.files());
        vm.found(saved.isPresent() ? VmState.SAVED : VmState.OFF,
                saved.map(s -> "saved at " + s.savedAt()).orElse(reasonIfOff));
    }

    /** Decides what a re-attached worker is, from what it was doing when the last engine stopped. */
    private void resumeSupervision(ManagedVm vm, Worker worker, WorkerRecord record) {
        QemuMonitor.RunStatus status = vm.query(QemuMonitor::queryStatus);
        String via = "re-attached to worker " + worker.pid();
        switch (record.phase()) {
            case LAUNCHING -> {
                vm.found(VmState.STARTING, via + ", which was half-started when the last engine stopped");
                end(vm, VmState.OFF, via + ", which was half-started when the last engine stopped; it was turned off");
            }
            case RESTORING -> {
                vm.found(VmState.RESTORING, via + ", which was still restoring when the last engine stopped");
                end(vm, VmState.SAVED, via + ", which was still restoring when the last engine stopped;"
                        + " it was turned off and the saved state kept");
            }
            case SAVING -> {
                vm.found(VmState.SAVING, via + ", which was saving when the last engine stopped");
                if (store.readSaved(vm.files()).isPresent()) {
                    end(vm, VmState.SAVED, via + ", whose save had completed when the last engine stopped");
                    return;
                }
                vm.command(QemuMonitor::migrateCancel);
                if (!record.pausedBeforeSave()) {
                    vm.command(QemuMonitor::cont);
                }
                store.clearSaved(vm.files());
                recordPhase(vm, record.withPhase(WorkerPhase.SUPERVISED));
                vm.transition(record.pausedBeforeSave() ? VmState.PAUSED : VmState.RUNNING,
                        via + "; the save it was making when the last engine stopped was cancelled");
            }
            case MIGRATING_IN -> {
                vm.found(VmState.MIGRATING, via + ", which was receiving a live migration when the last engine stopped");
                end(vm, VmState.OFF, via + ", which was receiving a live migration when the last engine stopped;"
                        + " it was turned off (the guest runs on at its source)");
            }
            case MIGRATING_OUT -> {
                if (vm.query(QemuMonitor::queryMigrate).completed()) {
                    // Everything was sent: its target may have been handed the guest and run it. Resumed here, there
                    // could be two; whoever knows which host owns the VM decides (resume it, or end this worker).
                    recordPhase(vm, record.withPhase(WorkerPhase.SUPERVISED));
                    vm.found(VmState.PAUSED, via + ", whose live migration had completed when the last engine stopped:"
                            + " the guest may run at its target now, so it is not resumed here");
                    return;
                }
                vm.found(VmState.MIGRATING, via + ", which was migrating when the last engine stopped");
                Migrations.abandonOnSource(vm);
                if (!record.pausedBeforeSave() && !vm.query(QemuMonitor::queryStatus).running()) {
                    vm.command(QemuMonitor::cont);
                }
                recordPhase(vm, record.withPhase(WorkerPhase.SUPERVISED));
                vm.transition(record.pausedBeforeSave() ? VmState.PAUSED : VmState.RUNNING,
                        via + "; the live migration it was making when the last engine stopped was cancelled");
            }
            case SUPERVISED -> vm.found(status.running() ? VmState.RUNNING : VmState.PAUSED,
                    via + " (QEMU status: " + status.status() + ")");
        }
    }

    private void watch(ManagedVm vm, Worker worker) {
        worker.exit().thenAcceptAsync(exit -> {
            if (closed) {
                return; // a closed engine no longer speaks for its VMs; the next one will
            }
            vm.lock().lock();
            try {
                handleExit(vm, worker, exit);
            } finally {
                vm.lock().unlock();
            }
        }, runnable -> Thread.ofVirtual().name("worker-exit-" + worker.pid()).start(runnable));
    }

    /** What the supervisor hears from a worker's QMP connection: its events, its silences, its answers. */
    private static QmpListener listenerFor(ManagedVm vm, Worker worker) {
        return new QmpListener() {
            @Override
            public void onEvent(QmpEvent event) {
                onQmpEvent(vm, worker, event);
            }

            @Override
            public void onSilent(String command, Duration timeout) {
                vm.silent(worker, "its QMP monitor did not answer '" + command + "' within " + timeout.toSeconds() + " s");
            }

            @Override
            public void onAnswering() {
                vm.answering(worker, "its QMP monitor answers again");
                Thread.ofVirtual().name("reconcile-" + worker.pid()).start(() -> reconcile(vm, worker));
            }

            @Override
            public void onClose(Throwable causeOrNull) {
                // the worker's own listener starts the death watch
            }
        };
    }

    /**
     * After a silence, makes the recorded state what QEMU says it is: commands sent before the worker
     * stopped answering (a pause that timed out) may have been carried out since.
     */
    private static void reconcile(ManagedVm vm, Worker worker) {
        vm.lock().lock();
        try {
            if (vm.worker() != worker || (vm.state() != VmState.RUNNING && vm.state() != VmState.PAUSED)) {
                return;
            }
            QemuMonitor.RunStatus status = vm.query(QemuMonitor::queryStatus);
            VmState real = status.running() ? VmState.RUNNING : VmState.PAUSED;
            if (real != vm.state()) {
                vm.transition(real, "QEMU reports '" + status.status() + "' now that its worker answers again"
                        + vm.lateNote(worker));
            }
        } catch (VmOperationException e) {
            vm.log("could not ask its worker " + worker.pid() + " what it is doing: " + e.getMessage());
        } finally {
            vm.lock().unlock();
        }
    }

    /** Follows pauses and resumes that the worker reports on its own, when no action is under way. */
    private static void onQmpEvent(ManagedVm vm, Worker worker, QmpEvent event) {
        if (event.name().equals("JOB_STATUS_CHANGE")) {
            String status = event.data().path("status").asText();
            if (status.equals("concluded") || status.equals("null")) {
                vm.seen("job:" + event.data().path("id").asText());
            }
            return;
        }
        if (event.name().equals("DEVICE_DELETED")) {
            vm.seen("deleted:" + event.data().path("device").asText());
            return;
        }
        if (!event.name().equals("STOP") && !event.name().equals("RESUME")) {
            return;
        }
        // An action under way holds the lock and sets the state itself; never block QMP's event thread here.
        if (!vm.lock().tryLock()) {
            return;
        }
        try {
            if (vm.worker() != worker) {
                return;
            }
            if (event.name().equals("STOP") && vm.state() == VmState.RUNNING) {
                vm.transition(VmState.PAUSED, "the worker paused the guest" + vm.lateNote(worker));
            } else if (event.name().equals("RESUME") && vm.state() == VmState.PAUSED) {
                vm.transition(VmState.RUNNING, "the worker resumed the guest" + vm.lateNote(worker));
            }
        } finally {
            vm.lock().unlock();
        }
    }

    private static void askToQuit(ManagedVm vm, Worker worker) {
        if (worker.qmp() == null) {
            return; // never connected: only killing can end it
        }
        try {
            QemuMonitor.over(worker.qmp(), QUIT_GRACE).quit();
        } catch (QmpClosedException e) {
            // QEMU often closes the connection before it answers quit: that is the worker going away.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            vm.log("worker " + worker.pid() + " did not accept quit (" + e.getMessage() + "); it is killed if it does not exit");
        }
    }

    static Optional<WorkerExit> await(Worker worker, Duration timeout) {
        try {
            return Optional.of(worker.exit().get(timeout.toMillis(), TimeUnit.MILLISECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            return Optional.of(WorkerExit.unknown());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
