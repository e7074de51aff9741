package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineException;
import io.hypervise.engine.vm.VmEvent;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.access.Caller;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.cluster.VmArrivals;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmRepository;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Keeps the inventory in step with the engine: at start the two are reconciled (what a dying server
 * left half done is finished or undone), and afterwards every state change the engine reports is
 * written back as it happens.
 */
@ApplicationScoped
public class VmReconciler {

    private static final Logger LOG = Logger.getLogger(VmReconciler.class);

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    VmRepository vms;

    @Inject
    VmService service;

    @Inject
    AuditLog audit;

    @Inject
    VmArrivals arrivals;

    @Inject
    io.hypervise.server.checkpoint.Checkpoints checkpoints;

    /** State changes are written in order, off the engine's threads, so a slow database never holds up a VM. */
    private final ExecutorService stateWriter = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "vm-state-writer");
        t.setDaemon(true);
        return t;
    });

    void onStart(@Observes @Priority(10) StartupEvent event) {
        localHost.register();
        engine.vms().addListener(this::onEngineEvent);
        reconcile();
        service.releaseStaleDeviceClaims();
        checkpoints.settleInterrupted(Caller.host());
    }

    private void onEngineEvent(VmEvent event) {
        if (event instanceof VmEvent.StateChanged change) {
            stateWriter.execute(() -> record(change.vmId(), change.to(), change.reason(), change.at()));
        }
    }

    private void record(String id, VmState state, String reason, Instant since) {
        try {
            vms.recordState(id, localHost.id(), state, reason, since);
        } catch (RuntimeException e) {
            LOG.errorf("could not record that VM %s is %s: %s", id, state, e.getMessage());
        }
    }

    /**
     * Brings the database and the engine into agreement after a start: creations and deletions that a
     * dying server left half done are finished or undone, VMs the database knows but the engine lacks
     * are defined again from their record, every recorded state is the engine's, and VMs the engine runs
     * but the database does not know are recorded (owned by the host, audited: nothing of ours makes
     * them, since every creation writes its row first).
     */
    void reconcile() {
        Caller host = Caller.host();
        settleMigrations(host);
        Map<String, VmStatus> running = engine.vms().list().stream()
                .collect(Collectors.toMap(VmStatus::id, Function.identity()));
        QuarkusTransaction.requiringNew().run(() -> {
            List<VmEntity> recorded = vms.onHost(localHost.id());
            Set<String> known = recorded.stream().map(vm -> vm.id).collect(Collectors.toSet());
            for (VmEntity vm : recorded) {
                VmStatus status = running.get(vm.id);
                if (vm.pending != null) {
                    status = settlePending(vm, status, host);
                    if (status == null) {
                        continue;
                    }
                }
                if (status == null) {
                    status = defineAgain(vm);
                }
                if (status != null) {
                    vm.state = status.state();
                    vm.stateReason = VmEntity.reason(status.reason());
                    vm.stateSince = status.since();
                }
            }
            for (VmStatus status : running.values()) {
                // A VM of another host's is not adopted (settleMigrations removes what is left of one that left).
                if (!known.contains(status.id()) && !vms.exists(status.id())) {
                    adopt(status, host);
                }
            }
        });
    }

    /**
     * Settles the live migrations this host's server was making when it stopped (their jobs died with it). A VM the
     * database names another host's owner left: its worker here (paused, its memory sent) ends and the VM leaves this
     * engine, as after a migration that finished. A migration not handed over is given up: no hand-over can happen
     * any more (the target then ends its arriving worker), and the guest, which left running, runs on here.
     */
    private void settleMigrations(Caller host) {
        // Arriving here: the engine turned the arriving workers off when it started again (their memory is gone).
        for (VmArrivals.Arrival arriving : arrivals.at(localHost.id(), Duration.ZERO, Duration.ZERO)) {
            if (!arriving.handedOver()) {
                if (arrivals.giveUp(arriving.vmId(), localHost.id()) == VmArrivals.GiveUp.GIVEN_UP) {
                    LOG.warnf("VM %s: its arrival from host %s was given up: the server of host %s stopped while it"
                            + " arrived (the guest stays with host %s)", arriving.vmId(), arriving.fromHost(),
                            localHost.id(), arriving.fromHost());
                }
                continue;
            }
            arrivals.forget(arriving.vmId(), localHost.id());
            LOG.errorf("VM %s was handed over to host %s by host %s, but the server of host %s stopped before it resumed"
                    + " the guest, whose memory is lost with its worker: it is Off here, its disks as they arrived",
                    arriving.vmId(), localHost.id(), arriving.fromHost(), localHost.id());
        }
        for (VmArrivals.Arrival leaving : arrivals.notHandedOverFrom(localHost.id())) {
            if (arrivals.giveUp(leaving.vmId(), leaving.host()) != VmArrivals.GiveUp.GIVEN_UP) {
                continue; // handed over after all: the VM left (below)
            }
            Optional<VmStatus> here = engine.vms().find(leaving.vmId());
            LOG.warnf("VM %s: its live migration to host %s was given up: the server of host %s stopped while it ran",
                    leaving.vmId(), leaving.host(), localHost.id());
            if (here.isPresent() && here.get().state() == VmState.PAUSED && !leaving.paused()) {
                engine.vms().resume(leaving.vmId());
                LOG.infof("VM %s resumed here: it left running and was not handed over", leaving.vmId());
            }
        }
        for (VmStatus status : engine.vms().list()) {
            Optional<VmEntity> recorded = vms.find(status.id());
            if (recorded.isEmpty() || recorded.get().hostId.equals(localHost.id())) {
                continue;
            }
            String owner = recorded.get().hostId;
            try {
                if (status.state() != VmState.OFF && status.state() != VmState.SAVED) {
                    engine.vms().turnOff(status.id());
                }
                engine.vms().delete(status.id());
                LOG.warnf("VM '%s' (%s) left host %s: the database names host %s its owner; its worker here ended and"
                        + " the VM left this engine", status.name(), status.id(), localHost.id(), owner);
                QuarkusTransaction.requiringNew().run(() -> audit.record(host, "vm.departed", AuditLog.vm(status.id()),
                        Map.of("from", localHost.id(), "owner", owner), AuditOutcome.SUCCEEDED, null));
            } catch (EngineException e) {
                LOG.errorf("VM '%s' (%s) belongs to host %s, but what is left of it here could not be removed: %s",
                        status.name(), status.id(), owner, e.getMessage());
            }
        }
    }

    private void adopt(VmStatus status, Caller host) {
        VmEntity vm = VmEntity.of(status.definition(), Caller.HOST, localHost.id(), Instant.now());
        vm.state = status.state();
        vm.stateReason = VmEntity.reason(status.reason());
        vms.insert(vm);
        audit.record(host, "vm.adopt", AuditLog.vm(vm.id), Map.of("name", vm.name), AuditOutcome.SUCCEEDED, null);
        LOG.warnf("recorded VM '%s' (%s), found in the engine of host %s without a record; it is owned by %s",
                vm.name, vm.id, localHost.id(), Caller.HOST);
    }

    /**
     * Finishes or undoes what a dying server left half done to this VM, auditing the outcome as the host.
     * Returns the engine's status of the VM if it stays, null if it is gone.
     */
    private VmStatus settlePending(VmEntity vm, VmStatus status, Caller host) {
        String target = AuditLog.vm(vm.id);
        String create = VmOperation.CREATE.auditName();
        String delete = VmOperation.DELETE.auditName();
        String interrupted = "the server of host " + localHost.id() + " stopped while it ran; settled at its next start";
        if (vm.pending == VmEntity.Pending.CREATING && status != null) {
            vm.pending = null;
            audit.record(host, create, target, Map.of("name", vm.name, "completedAtStart", true), AuditOutcome.SUCCEEDED, null);
            LOG.infof("VM '%s' (%s): its creation, interrupted, was completed (the engine had defined it)", vm.name, vm.id);
            return status;
        }
        if (vm.pending == VmEntity.Pending.CREATING) {
            List<String> removed = engine.vms().discardLeftovers(vm.id).stream().map(Object::toString).toList();
            vm.delete();
            audit.record(host, create, target, Map.of("name", vm.name, "removed", removed), AuditOutcome.FAILED,
                    interrupted + " before the engine had defined the VM; nothing of it is left");
            LOG.infof("VM '%s' (%s): its creation, interrupted before the engine defined it, was undone", vm.name, vm.id);
            return null;
        }
        if (vm.pending == VmEntity.Pending.STORING || vm.pending == VmEntity.Pending.EXPORTING) {
            // Its disks were being copied into the library (the job failed: Jobs says so at start) or sent as an
            // archive (the download stopped with the server): either way the VM is as it was.
            String what = vm.pending == VmEntity.Pending.STORING ? "storing it in the library" : "exporting it";
            if (vm.pending == VmEntity.Pending.EXPORTING) {
                audit.record(host, VmOperation.EXPORT.auditName(), target, Map.of("name", vm.name), AuditOutcome.FAILED,
                        interrupted + " while the archive was being sent");
            }
            vm.pending = null;
            LOG.infof("VM '%s' (%s): %s was interrupted; it is usable again", vm.name, vm.id, what);
            return status;
        }
        List<String> kept = service.keptDisks(vm);
        List<String> deleted;
        try {
            deleted = status == null ? engine.vms().discardLeftovers(vm.id).stream().map(Object::toString).toList()
                    : service.deleteFromEngine(vm.id);
        } catch (EngineException e) {
            vm.pending = null;
            audit.record(host, delete, target, Map.of("name", vm.name), AuditOutcome.FAILED, interrupted + ": " + e.getMessage());
            LOG.warnf("VM '%s' (%s): its deletion, interrupted, could not be finished: %s", vm.name, vm.id, e.getMessage());
            return status;
        }
        vm.delete();
        Map<String, Object> parameters = VmService.deletion(vm.name, deleted, kept);
        parameters.put("completedAtStart", true);
        audit.record(host, delete, target, parameters, AuditOutcome.SUCCEEDED, null);
        LOG.infof("VM '%s' (%s): its deletion, interrupted, was completed", vm.name, vm.id);
        return null;
    }

    private VmStatus defineAgain(VmEntity vm) {
        try {
            VmStatus status = engine.vms().define(vm.toDefinition());
            LOG.infof("VM '%s' (%s) defined again in the engine from its record", vm.name, vm.id);
            return status;
        } catch (EngineException e) {
            vm.state = VmState.OFF;
            vm.stateReason = VmEntity.reason("cannot be defined on this host: " + e.getMessage());
            LOG.warnf("VM '%s' (%s) cannot be defined on this host: %s", vm.name, vm.id, e.getMessage());
            return null;
        }
    }
}
