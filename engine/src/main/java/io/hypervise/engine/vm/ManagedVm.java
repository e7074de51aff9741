package io.hypervise.engine.vm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervise.engine.qmp.QemuMonitor;
import io.hypervise.engine.qmp.QmpException;
import io.hypervise.engine.qmp.QmpTimeoutException;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.worker.VmFiles;
import io.hypervise.engine.vm.worker.Worker;
import io.hypervise.engine.vm.worker.WorkerRecord;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * One defined VM and what the engine knows of it. Its fields change only through its own methods:
 * every state change through {@link #transition} (the state machine's table), its worker through
 * {@link #attach} and {@link #detach}. Actions hold {@link #lock()} while they change it; readers take
 * {@link #status()} without the lock, so listing never waits on a worker. Whether the worker answers
 * is tracked here too: {@link #silent} and {@link #answering} are called from its QMP connection's
 * event thread and from commands that time out, without the lock.
 */
final class ManagedVm {

    private static final System.Logger LOG = System.getLogger(Vms.class.getName());

    /** What an action asks of the VM's worker, and what it gets back. */
    @FunctionalInterface
    interface Query<T> {
        T ask(QemuMonitor monitor) throws InterruptedException;
    }

    /** What an action tells the VM's worker to do. */
    @FunctionalInterface
    interface Command {
        void tell(QemuMonitor monitor) throws InterruptedException;
    }

    private final VmFiles files;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile VmDefinition definition;
    private volatile VmState state = VmState.OFF;
    private volatile String reason = "defined";
    private volatile Instant since;
    /** Whether the state has changed since the engine found the VM; from then on only the table changes it. */
    private volatile boolean changed;
    private volatile Worker worker;
    private volatile WorkerRecord record;
    /** Null while the worker answers (or there is none). */
    private volatile Unresponsive unresponsive;
    /** The last command an action sent that got no reply in time: the worker may still carry it out. */
    private volatile LateCommand late;
    /** A {@link Vms#checkAnswering} is out. */
    private final AtomicBoolean probing = new AtomicBoolean();
    /** QEMU jobs someone waits for, by id: completed when QEMU says the job has concluded. */
    private final java.util.Map<String, java.util.concurrent.CompletableFuture<Void>> jobs =
            new java.util.concurrent.ConcurrentHashMap<>();

    private final String host;
    private final Clock clock;
    private final Consumer<VmEvent> events;
    private final Duration commandTimeout;
    private final VmStore store;

    private record LateCommand(Worker worker, String command, Instant sentAt) {
    }

    ManagedVm(VmDefinition definition, VmFiles files, String host, Clock clock, Consumer<VmEvent> events,
            Duration commandTimeout, VmStore store) {
        this.definition = definition;
        this.host = host;
        this.files = files;
        this.clock = clock;
        this.events = events;
        this.commandTimeout = commandTimeout;
        this.store = store;
        this.since = clock.instant();
    }

    String id() {
        return definition.id();
    }

    String name() {
        return definition.name();
    }

    VmFiles files() {
        return files;
    }

    /** Held by every action while it changes the VM. */
    ReentrantLock lock() {
        return lock;
    }

    VmDefinition definition() {
        return definition;
    }

    VmState state() {
        return state;
    }

    Instant since() {
        return since;
    }

    /** The worker, or null in the states without one (and for a moment while one starts or ends). */
    Worker worker() {
        return worker;
    }

    WorkerRecord record() {
        return record;
    }

    boolean isUnresponsive() {
        return unresponsive != null;
    }

    /** A new definition, stored by the caller; only Off VMs are reconfigured, any VM renamed. */
    void redefine(VmDefinition redefined) {
        if (!redefined.id().equals(definition.id())) {
            throw new IllegalArgumentException("VM " + id() + " cannot become " + redefined.id());
        }
        definition = redefined;
    }

    /** The VM's worker from now on, and what it is doing. */
    void attach(Worker started, WorkerRecord startedRecord) {
        worker = started;
        record = startedRecord;
    }

    /** What the worker is doing now (recorded on disk by the caller). */
    void record(WorkerRecord now) {
        record = now;
    }

    /** The worker is gone: the VM answers for itself again, and has no worker until the next attach. */
    void detach(Worker ended) {
        answering(ended, "its worker ended");
        worker = null;
        record = null;
    }

    /** Starts a check of whether the worker answers; false if one is already out. */
    boolean startProbe() {
        return probing.compareAndSet(false, true);
    }

    void probeDone() {
        probing.set(false);
    }

    VmStatus status() {
        Worker w = worker;
        return new VmStatus(definition, state, reason, since, w == null ? OptionalLong.empty() : OptionalLong.of(w.pid()),
                Optional.ofNullable(unresponsive));
    }

    /** Changes state through the state machine's table, logs the change with its cause and publishes it. */
    void transition(VmState to, String why) {
        VmState from = state;
        if (from != to && !VmStateMachine.canTransition(from, to)) {
            throw new IllegalStateException("illegal transition " + from + " -> " + to + " for VM " + id() + " (" + why + ")");
        }
        state = to;
        reason = why;
        since = clock.instant();
        changed = true;
        remember();
        log(from.displayName() + " -> " + to.displayName() + ": " + why);
        events.accept(new VmEvent.StateChanged(id(), name(), from, to, why, since));
    }

    /**
     * Sets the state a starting engine found the VM in: its first state, not a change anyone made, so not
     * checked against the table nor published. Found in the state it was last recorded in, it has been in
     * it since then. Once the VM has changed state, it can only {@link #transition}.
     */
    void found(VmState found, String why) {
        if (changed) {
            throw new IllegalStateException("VM " + id() + " is " + state.displayName() + " after a transition; it cannot"
                    + " be found " + found.displayName() + " (" + why + ")");
        }
        state = found;
        reason = why;
        since = store.readState(files).filter(last -> last.state() == found).map(StateRecord::since).orElse(clock.instant());
        remember();
        log(why);
    }

    /** Records the state on disk; a VM being deleted has nothing to remember, and a failure only costs the time. */
    private void remember() {
        if (!Files.isDirectory(files.dir())) {
            return;
        }
        try {
            store.writeState(files, new StateRecord(state, since));
        } catch (UncheckedIOException e) {
            LOG.log(Level.WARNING, () -> "VM '" + name() + "' (" + id() + "): could not record its state: " + e.getMessage());
        }
    }

    /**
     * Registers interest in a QEMU event before what causes it is sent: {@code job:<id>} for a job that
     * concludes, {@code deleted:<device id>} for a device the guest has let go of. The future completes then.
     */
    java.util.concurrent.CompletableFuture<Void> expect(String key) {
        java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        jobs.put(key, done);
        return done;
    }

    void forget(String key) {
        jobs.remove(key);
    }

    /** An event someone may be waiting for (see {@link #expect}) has come. */
    void seen(String key) {
        java.util.concurrent.CompletableFuture<Void> done = jobs.remove(key);
        if (done != null) {
            done.complete(null);
        }
    }

    /** Tells the VM's worker to do something: {@code vm.command(QemuMonitor::stop)}. See {@link #query}. */
    void command(Command command) {
        query(monitor -> {
            command.tell(monitor);
            return null;
        });
    }

    /**
     * Asks the VM's worker, within the command timeout: {@code vm.query(QemuMonitor::queryStatus)}.
     * Nothing is sent to a worker that has not answered since a command timed out: it would carry it out
     * whenever it answers again.
     */
    <T> T query(Query<T> query) {
        Worker w = worker;
        try {
            return query.ask(new QemuMonitor((command, args) -> send(w, command, args)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("VM '" + name() + "': interrupted while waiting for its worker", e);
        }
    }

    private JsonNode send(Worker w, String command, ObjectNode args) {
        if (w == null || w.qmp() == null) {
            throw new VmOperationException("VM '" + name() + "' has no worker to send '" + command + "' to");
        }
        Unresponsive silence = unresponsive;
        if (silence != null || w.qmp().isSilent()) {
            throw new VmUnresponsiveException("VM '" + name() + "': '" + command + "' not sent: its worker (PID "
                    + w.pid() + ") has not answered" + (silence == null ? "" : " since " + at(silence.since())
                    + " (" + silence.reason() + ")"));
        }
        try {
            return w.qmp().execute(command, args, commandTimeout);
        } catch (QmpTimeoutException e) {
            late = new LateCommand(w, command, clock.instant());
            if (w.qmp().isSilent()) {
                silent(w, "its QMP monitor did not answer '" + command + "' within " + commandTimeout.toSeconds() + " s");
            }
            throw new VmUnresponsiveException("VM '" + name() + "' did not answer: " + e.getMessage() + ". Its worker"
                    + " (PID " + w.pid() + ") is stopped or stuck; should it answer later and carry '" + command
                    + "' out, the VM's state will follow what it does", e);
        } catch (QmpException e) {
            throw new VmOperationException("VM '" + name() + "': " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("VM '" + name() + "': interrupted while waiting for '" + command + "'", e);
        }
    }

    /** Refuses every action but turning off while the worker does not answer. */
    void requireAnswering(VmAction action) {
        Unresponsive silence = unresponsive;
        if (silence != null && action != VmAction.TURN_OFF) {
            throw new VmUnresponsiveException("cannot " + action.verb() + " VM '" + name() + "': its worker has not"
                    + " answered since " + at(silence.since()) + " (" + silence.reason() + "); only turning it off is"
                    + " possible until it answers again");
        }
    }

    /** The worker {@code w} stopped answering: shown in the status, published and logged, once per silence. */
    void silent(Worker w, String what) {
        Unresponsive silence;
        synchronized (this) {
            if (worker != w || unresponsive != null) {
                return;
            }
            silence = new Unresponsive(clock.instant(), what);
            unresponsive = silence;
        }
        LOG.log(Level.WARNING, () -> "VM '" + name() + "' (" + id() + ") on host " + host + ": worker " + w.pid()
                + " stopped answering: " + what + "; shown as unresponsive until it answers again");
        events.accept(new VmEvent.ResponsivenessChanged(id(), name(), Optional.of(silence), what, silence.since()));
    }

    /** The worker {@code w} answers again, or is gone: the flag clears, logged and published once. */
    void answering(Worker w, String why) {
        Unresponsive silence;
        synchronized (this) {
            silence = unresponsive;
            if (worker != w || silence == null) {
                return;
            }
            unresponsive = null;
        }
        Instant now = clock.instant();
        String what = why + "; shown as unresponsive since " + at(silence.since()) + " ("
                + Duration.between(silence.since(), now).toSeconds() + " s)";
        LOG.log(Level.INFO, () -> "VM '" + name() + "' (" + id() + ") on host " + host + ": worker " + w.pid()
                + " is no longer unresponsive: " + what);
        events.accept(new VmEvent.ResponsivenessChanged(id(), name(), Optional.empty(), what, now));
    }

    /**
     * For the reason of a state the worker reached on its own: names the command that had timed out,
     * which it has now carried out (once; later changes are the worker's own).
     */
    String lateNote(Worker w) {
        LateCommand command = late;
        late = null;
        return command == null || command.worker() != w ? ""
                : " (carrying out '" + command.command() + "', sent at " + at(command.sentAt()) + ", which had got no reply in time)";
    }

    private static String at(Instant instant) {
        return instant.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    void progress(VmAction action, long done, long total) {
        events.accept(new VmEvent.Progress(id(), action, done, total, clock.instant()));
    }

    void log(String message) {
        LOG.log(Level.INFO, () -> "VM '" + name() + "' (" + id() + "): " + message);
    }
}
