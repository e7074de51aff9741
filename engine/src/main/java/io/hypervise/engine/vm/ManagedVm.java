package io.hypervise.engine.vm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervise.engine.qmp.QmpException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.OptionalLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * One defined VM and what the engine knows of it. Actions hold {@link #lock} while they change it;
 * readers take {@link #status()} without the lock, so listing never waits on a worker.
 */
final class ManagedVm {

    private static final System.Logger LOG = System.getLogger(VmService.class.getName());

    final VmFiles files;
    final ReentrantLock lock = new ReentrantLock();
    volatile VmDefinition definition;
    volatile VmState state = VmState.OFF;
    volatile String reason = "defined";
    volatile Instant since;
    volatile Worker worker;
    volatile WorkerRecord record;

    private final Clock clock;
    private final Consumer<VmEvent> events;
    private final Duration commandTimeout;
    private final VmStore store;

    ManagedVm(VmDefinition definition, VmFiles files, Clock clock, Consumer<VmEvent> events, Duration commandTimeout,
            VmStore store) {
        this.definition = definition;
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

    VmStatus status() {
        Worker w = worker;
        return new VmStatus(definition, state, reason, since, w == null ? OptionalLong.empty() : OptionalLong.of(w.pid()));
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
        remember();
        log(from.displayName() + " -> " + to.displayName() + ": " + why);
        events.accept(new VmEvent.StateChanged(id(), name(), from, to, why, since));
    }

    /**
     * Sets the state a starting engine found the VM in: not a change anyone made, so not published. Found
     * in the state it was last recorded in, it has been in it since then.
     */
    void found(VmState found, String why) {
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

    /** Sends a QMP command to the VM's worker, within the command timeout. */
    JsonNode command(String command, ObjectNode args) {
        Worker w = worker;
        if (w == null || w.qmp() == null) {
            throw new VmOperationException("VM '" + name() + "' has no worker to send '" + command + "' to");
        }
        try {
            return w.qmp().execute(command, args, commandTimeout);
        } catch (QmpException e) {
            throw new VmOperationException("VM '" + name() + "': " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("VM '" + name() + "': interrupted while waiting for '" + command + "'", e);
        }
    }

    void progress(VmAction action, long done, long total) {
        events.accept(new VmEvent.Progress(id(), action, done, total, clock.instant()));
    }

    void log(String message) {
        LOG.log(Level.INFO, () -> "VM '" + name() + "' (" + id() + "): " + message);
    }
}
