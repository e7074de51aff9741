package io.hypervise.engine.vm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervise.engine.qmp.QmpClosedException;
import io.hypervise.engine.qmp.QmpEvent;
import io.hypervise.engine.qmp.QmpException;
import io.hypervise.engine.storage.StorageRoot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.time.Instant;

/**
 * The engine's VM service (the source chapter's VMMS): defines VMs, runs one worker per VM, carries
 * out lifecycle actions through the state machine, and re-attaches to running workers when it starts.
 *
 * <p>Each VM has a lock that its actions hold while they change its state; listing and reading status
 * never take it, so a worker that stops answering can slow only the actions on its own VM, and only up
 * to the command timeout.
 */
public final class VmService implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(VmService.class.getName());
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** QEMU's default migration bandwidth limit (32 MiB/s) is for live migration over a network. */
    private static final long SAVE_BANDWIDTH = 8L << 30;
    private static final Duration QUIT_GRACE = Duration.ofSeconds(5);

    private final EngineSettings settings;
    private final StorageRoot storage;
    private final QemuCommandLine commandLine;
    private final VmDefinitionValidator validator;
    private final VmStore store;
    private final Clock clock;
    private final Map<String, ManagedVm> vms = new ConcurrentHashMap<>();
    private final List<Consumer<VmEvent>> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    public VmService(EngineSettings settings, StorageRoot storage, QemuCommandLine commandLine, Clock clock) {
        this.settings = settings;
        this.storage = storage;
        this.commandLine = commandLine;
        this.validator = new VmDefinitionValidator(storage);
        this.store = new VmStore(settings.stateDir());
        this.clock = clock;
    }

    /** Loads every VM under the state directory and re-attaches to the workers that still run. */
    public void recover() {
        for (VmFiles files : store.all()) {
            Optional<VmDefinition> def = store.readDefinition(files);
            if (def.isEmpty()) {
                LOG.log(Level.WARNING, "ignoring {0}: it has no definition.json", files.dir());
                continue;
            }
            ManagedVm vm = new ManagedVm(def.get(), files, clock.instant());
            vms.put(vm.id(), vm);
            vm.lock.lock();
            try {
                reattach(vm);
            } finally {
                vm.lock.unlock();
            }
        }
    }

    public void addListener(Consumer<VmEvent> listener) {
        listeners.add(listener);
    }

    // ---------------------------------------------------------------- definitions

    public VmStatus define(VmDefinition definition) {
        VmDefinition def = absolutePaths(definition);
        ManagedVm vm = new ManagedVm(def, store.filesOf(def.id()), clock.instant());
        if (vms.putIfAbsent(def.id(), vm) != null) {
            throw new VmAlreadyExistsException(def.id());
        }
        try {
            store.create(vm.files);
            store.writeDefinition(vm.files, def);
        } catch (IOException | UncheckedIOException e) {
            vms.remove(def.id());
            throw new VmOperationException("cannot store the definition of VM '" + def.name() + "': " + e.getMessage(), e);
        }
        LOG.log(Level.INFO, () -> "VM '" + def.name() + "' (" + def.id() + ") defined");
        return vm.status();
    }

    /** Replaces a VM's definition; only while it is Off, since a worker runs with what it was started with. */
    public VmStatus redefine(VmDefinition definition) {
        ManagedVm vm = get(definition.id());
        VmDefinition def = absolutePaths(definition);
        vm.lock.lock();
        try {
            VmStateMachine.check(VmAction.RECONFIGURE, vm.state, vm.name());
            store.writeDefinition(vm.files, def);
            vm.definition = def;
            return vm.status();
        } finally {
            vm.lock.unlock();
        }
    }

    public void delete(String id) {
        ManagedVm vm = get(id);
        vm.lock.lock();
        try {
            VmStateMachine.check(VmAction.DELETE, vm.state, vm.name());
            store.delete(vm.files);
            vms.remove(id);
            log(vm, "deleted");
        } catch (IOException e) {
            throw new VmOperationException("cannot delete the files of VM '" + vm.name() + "': " + e.getMessage(), e);
        } finally {
            vm.lock.unlock();
        }
    }

    // ---------------------------------------------------------------- reading (never waits on a worker)

    public List<VmStatus> list() {
        return vms.values().stream()
                .map(ManagedVm::status)
                .sorted(Comparator.comparing(VmStatus::name).thenComparing(VmStatus::id))
                .toList();
    }

    public VmStatus status(String id) {
        return get(id).status();
    }

    public Path serialLog(String id) {
        return get(id).files.serialLog();
    }

    /** The last lines the guest wrote to its serial console (from at most the log's last 256 KiB). */
    public List<String> serialTail(String id, int lines) {
        return LogTail.of(get(id).files.serialLog(), lines, 256 * 1024);
    }

    public Path vncSocket(String id) {
        return get(id).files.vncSocket();
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts an Off VM, or restores a Saved one to the state it was saved in. */
    public VmStatus start(String id) {
        ManagedVm vm = get(id);
        vm.lock.lock();
        try {
            VmStateMachine.check(VmAction.START, vm.state, vm.name());
            if (vm.state == VmState.SAVED) {
                restore(vm);
            } else {
                boot(vm);
            }
            return vm.status();
        } finally {
            vm.lock.unlock();
        }
    }

    public VmStatus pause(String id) {
        return act(id, VmAction.PAUSE, vm -> {
            command(vm, "stop", null);
            transition(vm, VmState.PAUSED, "paused on request");
        });
    }

    public VmStatus resume(String id) {
        return act(id, VmAction.RESUME, vm -> {
            command(vm, "cont", null);
            transition(vm, VmState.RUNNING, "resumed on request");
        });
    }

    /** Resets the guest, like pressing the machine's reset button; its state stays what it was. */
    public VmStatus restart(String id) {
        return act(id, VmAction.RESTART, vm -> {
            command(vm, "system_reset", null);
            log(vm, "reset on request");
        });
    }

    /** Saves the VM's memory and device state to a file and ends its worker; start restores it. */
    public VmStatus save(String id) {
        return act(id, VmAction.SAVE, this::saveLocked);
    }

    public VmStatus turnOff(String id) {
        return act(id, VmAction.TURN_OFF, vm -> end(vm, VmState.OFF, "turned off"));
    }

    public VmStatus discardSavedState(String id) {
        return act(id, VmAction.DISCARD_SAVED_STATE, vm -> {
            store.clearSaved(vm.files);
            transition(vm, VmState.OFF, "saved state discarded");
        });
    }

    /**
     * Presses the ACPI power button and waits for the guest to power off; a guest that has not done so
     * within {@code timeout} is turned off. The wait does not hold the VM's lock, so a person can turn
     * the VM off meanwhile.
     */
    public VmStatus shutDown(String id, Duration timeout) {
        ManagedVm vm = get(id);
        Worker worker;
        vm.lock.lock();
        try {
            VmStateMachine.check(VmAction.SHUT_DOWN, vm.state, vm.name());
            worker = vm.worker;
            transition(vm, VmState.STOPPING, "shut down requested: ACPI power button pressed");
            worker.expect(VmState.OFF, "shut down by the guest on request");
            try {
                command(vm, "system_powerdown", null);
            } catch (VmOperationException e) {
                transition(vm, VmState.RUNNING, "the power button could not be pressed");
                throw e;
            }
        } finally {
            vm.lock.unlock();
        }
        Optional<WorkerExit> exit = await(worker, timeout);
        vm.lock.lock();
        try {
            if (exit.isPresent()) {
                handleExit(vm, worker, exit.get());
            } else if (vm.worker == worker) {
                end(vm, VmState.OFF, "the guest did not shut down within " + timeout.toSeconds() + " s; turned off");
            }
            return vm.status();
        } finally {
            vm.lock.unlock();
        }
    }

    public VmStatus shutDown(String id) {
        return shutDown(id, settings.shutdownTimeout());
    }

    /** Lets go of every worker without stopping it: the VMs go on running without the engine. */
    @Override
    public void close() {
        closed = true;
        for (ManagedVm vm : vms.values()) {
            Worker worker = vm.worker;
            if (worker != null) {
                worker.detach();
            }
        }
    }

    // ---------------------------------------------------------------- how actions are carried out

    private interface Action {
        void run(ManagedVm vm);
    }

    private VmStatus act(String id, VmAction action, Action body) {
        ManagedVm vm = get(id);
        vm.lock.lock();
        try {
            VmStateMachine.check(action, vm.state, vm.name());
            body.run(vm);
            return vm.status();
        } finally {
            vm.lock.unlock();
        }
    }

    private void boot(ManagedVm vm) {
        transition(vm, VmState.STARTING, "start requested");
        Worker worker = launch(vm, false, WorkerPhase.LAUNCHING);
        try {
            command(vm, "cont", null);
        } catch (VmOperationException e) {
            failAndEnd(vm, worker, VmState.OFF, "the worker could not be resumed: " + e.getMessage());
        }
        store.writeWorker(vm.files, vm.record.withPhase(WorkerPhase.SUPERVISED));
        vm.record = vm.record.withPhase(WorkerPhase.SUPERVISED);
        transition(vm, VmState.RUNNING, "worker " + worker.pid() + " started");
    }

    private void restore(ManagedVm vm) {
        SavedState saved = store.readSaved(vm.files).orElseThrow(() -> new VmOperationException(
                "VM '" + vm.name() + "' is Saved but its saved state is missing from " + vm.files.dir()));
        transition(vm, VmState.RESTORING, "restore requested");
        Worker worker = launch(vm, true, WorkerPhase.RESTORING);
        Path socket = vm.files.dir().resolve("restore.sock");
        try {
            ObjectNode args = NODES.objectNode().put("uri", "unix:" + socket);
            command(vm, "migrate-incoming", args);
            StateStream.send(socket, vm.files.savedState(), settings.qmpConnectTimeout(),
                    n -> progress(vm, VmAction.START, n, saved.bytes()));
            awaitMigration(vm, "restoring");
            if (!saved.paused()) {
                command(vm, "cont", null);
            }
        } catch (IOException | VmOperationException e) {
            failAndEnd(vm, worker, VmState.SAVED, "restoring failed; the saved state is kept: " + e.getMessage());
        }
        store.clearSaved(vm.files);
        vm.record = vm.record.withPhase(WorkerPhase.SUPERVISED);
        store.writeWorker(vm.files, vm.record);
        transition(vm, saved.paused() ? VmState.PAUSED : VmState.RUNNING,
                "restored from the state saved at " + saved.savedAt() + " (worker " + worker.pid() + ")");
    }

    private void saveLocked(ManagedVm vm) {
        boolean wasPaused = vm.state == VmState.PAUSED;
        VmState before = vm.state;
        Worker worker = vm.worker;
        transition(vm, VmState.SAVING, "save requested");
        vm.record = vm.record.savingFrom(wasPaused);
        store.writeWorker(vm.files, vm.record);
        Path socket = vm.files.dir().resolve("save.sock");
        try {
            if (!wasPaused) {
                command(vm, "stop", null);
            }
            command(vm, "migrate-set-parameters", NODES.objectNode().put("max-bandwidth", SAVE_BANDWIDTH));
            var received = StateStream.receive(socket, vm.files.savedStatePartial(),
                    n -> progress(vm, VmAction.SAVE, n, vm.definition.memoryMib() * (1L << 20)));
            command(vm, "migrate", NODES.objectNode().put("uri", "unix:" + socket));
            awaitMigration(vm, "saving");
            long bytes = received.get(settings.saveTimeout().toMillis(), TimeUnit.MILLISECONDS);
            Files.move(vm.files.savedStatePartial(), vm.files.savedState(), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            store.writeSaved(vm.files, new SavedState(clock.instant(), bytes, wasPaused));
        } catch (IOException | VmOperationException | ExecutionException | TimeoutException e) {
            abandonSave(vm, worker, before, e);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abandonSave(vm, worker, before, e);
            return;
        }
        end(vm, VmState.SAVED, "saved");
    }

    private void abandonSave(ManagedVm vm, Worker worker, VmState before, Exception cause) {
        String reason = "saving failed: " + message(cause);
        try {
            command(vm, "migrate_cancel", null);
            if (before == VmState.RUNNING) {
                command(vm, "cont", null);
            }
        } catch (VmOperationException e) {
            failAndEnd(vm, worker, VmState.OFF, reason + "; the worker then failed too: " + e.getMessage());
        }
        store.clearSaved(vm.files);
        vm.record = vm.record.withPhase(WorkerPhase.SUPERVISED);
        store.writeWorker(vm.files, vm.record);
        transition(vm, before, reason);
        throw new VmOperationException("could not save VM '" + vm.name() + "': " + message(cause), cause);
    }

    /** Polls the migration until it completes; a failed or stalled one is an error. */
    private void awaitMigration(ManagedVm vm, String what) {
        long deadline = System.nanoTime() + settings.saveTimeout().toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode info = command(vm, "query-migrate", null);
            String status = info.path("status").asText("");
            switch (status) {
                case "completed":
                    return;
                case "failed", "cancelled":
                    throw new VmOperationException(what + " VM '" + vm.name() + "' failed: migration "
                            + status + (info.has("error-desc") ? " (" + info.get("error-desc").asText() + ")" : ""));
                default:
                    sleep(Duration.ofMillis(50));
            }
        }
        throw new VmOperationException(what + " VM '" + vm.name() + "' did not finish within "
                + settings.saveTimeout().toSeconds() + " s");
    }

    /** Starts a worker for the VM and connects to it; on failure the VM falls back to Off or Saved. */
    private Worker launch(ManagedVm vm, boolean incoming, WorkerPhase phase) {
        VmState fallback = incoming ? VmState.SAVED : VmState.OFF;
        try {
            validator.validate(vm.definition);
        } catch (InvalidVmDefinitionException e) {
            transition(vm, fallback, "cannot start: " + e.getMessage());
            throw e;
        }
        List<String> argv = commandLine.build(vm.definition, vm.files, this::resolve, incoming);
        Worker worker;
        try {
            store.clearWorker(vm.files);
            worker = Worker.launch(argv, vm.files);
        } catch (IOException | UncheckedIOException e) {
            transition(vm, fallback, "the worker could not be started: " + e.getMessage());
            throw new VmOperationException("cannot start VM '" + vm.name() + "': " + e.getMessage(), e);
        }
        vm.worker = worker;
        vm.record = new WorkerRecord(worker.pid(), worker.startTicks(), phase, false, clock.instant());
        store.writeWorker(vm.files, vm.record);
        watch(vm, worker);
        log(vm, "worker " + worker.pid() + " launched: " + argv);
        try {
            worker.connect(settings.qmpConnectTimeout(), event -> onQmpEvent(vm, worker, event));
        } catch (QmpException e) {
            failAndEnd(vm, worker, fallback, "the worker did not open its QMP socket: " + e.getMessage());
        }
        return worker;
    }

    /** Ends a worker that failed part-way through an action, settles the state, and reports the failure. */
    private void failAndEnd(ManagedVm vm, Worker worker, VmState target, String reason) {
        String log = worker.logTail();
        String full = log.isEmpty() ? reason : reason + " (worker log: " + log + ")";
        if (vm.worker == worker) {
            end(vm, target, full);
        }
        throw new VmOperationException("VM '" + vm.name() + "': " + full);
    }

    /**
     * Ends the VM's worker and settles on {@code target}: asks QEMU to quit (which flushes disk caches),
     * and kills it if it has not gone within a few seconds.
     */
    private void end(ManagedVm vm, VmState target, String reason) {
        Worker worker = vm.worker;
        if (worker == null) {
            transition(vm, target, reason);
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

    private static void askToQuit(ManagedVm vm, Worker worker) {
        if (worker.qmp() == null) {
            return; // never connected: only killing can end it
        }
        try {
            worker.qmp().execute("quit", null, QUIT_GRACE);
        } catch (QmpClosedException e) {
            // QEMU often closes the connection before it answers quit: that is the worker going away.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (QmpException | RuntimeException e) {
            log(vm, "worker " + worker.pid() + " did not accept quit (" + e.getMessage() + "); it is killed if it does not exit");
        }
    }

    private void watch(ManagedVm vm, Worker worker) {
        worker.exit().thenAcceptAsync(exit -> {
            if (closed) {
                return; // a closed engine no longer speaks for its VMs; the next one will
            }
            vm.lock.lock();
            try {
                handleExit(vm, worker, exit);
            } finally {
                vm.lock.unlock();
            }
        }, runnable -> Thread.ofVirtual().name("worker-exit-" + worker.pid()).start(runnable));
    }

    /** Settles the VM after its worker ended, once per worker, whichever path noticed the end first. */
    private void handleExit(ManagedVm vm, Worker worker, WorkerExit exit) {
        if (vm.worker != worker) {
            return;
        }
        vm.worker = null;
        vm.record = null;
        worker.detach();
        store.clearWorker(vm.files);
        Worker.Intent intent = worker.intent().orElse(null);
        if (intent != null) {
            transition(vm, intent.target(), intent.reason());
            return;
        }
        if (worker.shutdownReason().filter(r -> r.startsWith("guest")).isPresent()) {
            transition(vm, VmState.OFF, "the guest powered off (" + worker.shutdownReason().get() + ")");
            return;
        }
        String log = worker.logTail();
        transition(vm, VmState.OFF, "worker " + worker.pid() + " ended unexpectedly: " + exit.description()
                + (log.isEmpty() ? "" : " (worker log: " + log + ")"));
    }

    /** Follows pauses and resumes that the worker reports on its own, when no action is under way. */
    private void onQmpEvent(ManagedVm vm, Worker worker, QmpEvent event) {
        if (!event.name().equals("STOP") && !event.name().equals("RESUME")) {
            return;
        }
        // An action under way holds the lock and sets the state itself; never block QMP's reader here.
        if (!vm.lock.tryLock()) {
            return;
        }
        try {
            if (vm.worker != worker) {
                return;
            }
            if (event.name().equals("STOP") && vm.state == VmState.RUNNING) {
                transition(vm, VmState.PAUSED, "the worker paused the guest");
            } else if (event.name().equals("RESUME") && vm.state == VmState.PAUSED) {
                transition(vm, VmState.RUNNING, "the worker resumed the guest");
            }
        } finally {
            vm.lock.unlock();
        }
    }

    // ---------------------------------------------------------------- re-attaching after a restart

    private void reattach(ManagedVm vm) {
        store.clearPartialSave(vm.files);
        Optional<WorkerRecord> record = store.readWorker(vm.files);
        if (record.isEmpty()) {
            settleWithoutWorker(vm, "off when the engine started");
            return;
        }
        Optional<Worker> adopted = Worker.adopt(record.get(), QemuCommandLine.workerName(vm.id()), vm.files);
        if (adopted.isEmpty()) {
            store.clearWorker(vm.files);
            settleWithoutWorker(vm, "its worker (PID " + record.get().pid()
                    + ") was no longer running when the engine started");
            return;
        }
        Worker worker = adopted.get();
        vm.worker = worker;
        vm.record = record.get();
        watch(vm, worker);
        try {
            worker.connect(settings.qmpConnectTimeout(), event -> onQmpEvent(vm, worker, event));
            resumeSupervision(vm, worker, record.get());
        } catch (QmpException | VmOperationException e) {
            // Killing a guest because its worker is slow to answer would lose it; say so and let a person decide.
            worker.watchWithoutQmp();
            vm.state = VmState.RUNNING;
            vm.reason = "re-attached to worker " + worker.pid() + ", but it does not answer QMP (" + e.getMessage()
                    + "); turn the VM off to recover";
            vm.since = clock.instant();
            log(vm, vm.reason);
        }
    }

    private void settleWithoutWorker(ManagedVm vm, String reasonIfOff) {
        Optional<SavedState> saved = store.readSaved(vm.files);
        vm.state = saved.isPresent() ? VmState.SAVED : VmState.OFF;
        vm.reason = saved.map(s -> "saved at " + s.savedAt()).orElse(reasonIfOff);
        vm.since = clock.instant();
    }

    /** Decides what a re-attached worker is, from what it was doing when the last engine stopped. */
    private void resumeSupervision(ManagedVm vm, Worker worker, WorkerRecord record) {
        String status = command(vm, "query-status", null).path("status").asText("");
        String via = "re-attached to worker " + worker.pid();
        switch (record.phase()) {
            case LAUNCHING -> {
                vm.state = VmState.STARTING;
                end(vm, VmState.OFF, via + ", which was half-started when the last engine stopped; it was turned off");
            }
            case RESTORING -> {
                vm.state = VmState.RESTORING;
                end(vm, VmState.SAVED, via + ", which was still restoring when the last engine stopped;"
                        + " it was turned off and the saved state kept");
            }
            case SAVING -> {
                vm.state = VmState.SAVING;
                if (store.readSaved(vm.files).isPresent()) {
                    end(vm, VmState.SAVED, via + ", whose save had completed when the last engine stopped");
                    return;
                }
                command(vm, "migrate_cancel", null);
                if (!record.pausedBeforeSave()) {
                    command(vm, "cont", null);
                }
                store.clearSaved(vm.files);
                vm.record = record.withPhase(WorkerPhase.SUPERVISED);
                store.writeWorker(vm.files, vm.record);
                transition(vm, record.pausedBeforeSave() ? VmState.PAUSED : VmState.RUNNING,
                        via + "; the save it was making when the last engine stopped was cancelled");
            }
            case SUPERVISED -> {
                vm.state = status.equals("running") ? VmState.RUNNING : VmState.PAUSED;
                vm.reason = via + " (QEMU status: " + status + ")";
                vm.since = clock.instant();
                log(vm, vm.reason);
            }
        }
    }

    // ---------------------------------------------------------------- small pieces

    private ManagedVm get(String id) {
        ManagedVm vm = id == null ? null : vms.get(id);
        if (vm == null) {
            throw new VmNotFoundException(id);
        }
        return vm;
    }

    private JsonNode command(ManagedVm vm, String command, ObjectNode args) {
        Worker worker = vm.worker;
        if (worker == null || worker.qmp() == null) {
            throw new VmOperationException("VM '" + vm.name() + "' has no worker to send '" + command + "' to");
        }
        try {
            return worker.qmp().execute(command, args, settings.commandTimeout());
        } catch (QmpException e) {
            throw new VmOperationException("VM '" + vm.name() + "': " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("VM '" + vm.name() + "': interrupted while waiting for '" + command + "'", e);
        }
    }

    private void transition(ManagedVm vm, VmState to, String reason) {
        VmState from = vm.state;
        if (!VmStateMachine.canTransition(from, to) && from != to) {
            throw new IllegalStateException("illegal transition " + from + " -> " + to + " for VM " + vm.id()
                    + " (" + reason + ")");
        }
        vm.state = to;
        vm.reason = reason;
        vm.since = clock.instant();
        log(vm, from.displayName() + " -> " + to.displayName() + ": " + reason);
        publish(new VmEvent.StateChanged(vm.id(), vm.name(), from, to, reason, vm.since));
    }

    private static void log(ManagedVm vm, String message) {
        LOG.log(Level.INFO, () -> "VM '" + vm.name() + "' (" + vm.id() + "): " + message);
    }

    private void progress(ManagedVm vm, VmAction action, long done, long total) {
        publish(new VmEvent.Progress(vm.id(), action, done, total, clock.instant()));
    }

    private void publish(VmEvent event) {
        for (Consumer<VmEvent> listener : listeners) {
            try {
                listener.accept(event);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "a VM event listener failed on " + event, e);
            }
        }
    }

    private Path resolve(Path path) {
        try {
            return storage.resolve(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stores paths absolute, so a definition means the same files whatever the working directory. */
    private VmDefinition absolutePaths(VmDefinition def) {
        validator.validate(def);
        List<Disk> disks = def.disks().stream()
                .map(d -> new Disk(resolve(d.path()), d.format(), d.readOnly()))
                .toList();
        BootSource boot = switch (def.boot()) {
            case BootSource.Kernel k -> new BootSource.Kernel(resolve(k.kernel()),
                    k.initramfs() == null ? null : resolve(k.initramfs()), k.commandLine());
            case BootSource.FirstDisk d -> d;
            case BootSource.Iso iso -> new BootSource.Iso(resolve(iso.image()));
        };
        return new VmDefinition(def.id(), def.name(), def.vcpus(), def.memoryMib(), def.profile(), disks,
                def.nics(), boot, def.display());
    }

    private static Optional<WorkerExit> await(Worker worker, Duration timeout) {
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

    private static String message(Throwable e) {
        Throwable t = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("interrupted", e);
        }
    }

    /** One defined VM and what the engine knows of it. */
    private static final class ManagedVm {
        final VmFiles files;
        final ReentrantLock lock = new ReentrantLock();
        volatile VmDefinition definition;
        volatile VmState state = VmState.OFF;
        volatile String reason = "defined";
        volatile Instant since;
        volatile Worker worker;
        volatile WorkerRecord record;

        ManagedVm(VmDefinition definition, VmFiles files, Instant now) {
            this.definition = definition;
            this.files = files;
            this.since = now;
        }

        String id() {
            return definition.id();
        }

        String name() {
            return definition.name();
        }

        VmStatus status() {
            Worker w = worker;
            return new VmStatus(definition, state, reason, since, w == null ? OptionalLong.empty() : OptionalLong.of(w.pid()));
        }
    }
}
