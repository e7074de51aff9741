package io.hypervise.server.inventory;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineException;
import io.hypervise.engine.vm.VmAction;
import io.hypervise.engine.vm.VmAlreadyExistsException;
import io.hypervise.engine.vm.VmEvent;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.policy.Candidate;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.PolicyCheck;
import io.hypervise.server.policy.PolicyDeniedException;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.policy.Usage;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.panache.common.Page;
import io.quarkus.panache.common.Sort;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * The VMs of this host as PostgreSQL keeps them, kept in step with the engine: definitions go to the
 * database and the engine together, the engine's state changes are written back as they happen, and
 * at start the two are reconciled.
 */
@ApplicationScoped
public class VmInventory {

    private static final Logger LOG = Logger.getLogger(VmInventory.class);
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    AuditLog audit;

    @Inject
    SelfServicePolicies policies;

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
    }

    /** A page of the VMs the caller may see, filtered. */
    @Transactional
    public PageOf<VmEntity> list(Caller caller, VmFilter filter, int page, int size) {
        StringBuilder query = new StringBuilder("1 = 1");
        Map<String, Object> params = new HashMap<>();
        if (caller.reach(Permission.VM_READ) == Reach.OWN) {
            query.append(" and owner = :me");
            params.put("me", caller.username());
        }
        filter.owner().ifPresent(o -> {
            query.append(" and owner = :owner");
            params.put("owner", o);
        });
        filter.state().ifPresent(s -> {
            query.append(" and state = :state");
            params.put("state", s);
        });
        filter.nameContains().ifPresent(n -> {
            query.append(" and lower(name) like :name");
            params.put("name", "%" + n.toLowerCase().replace("%", "\\%").replace("_", "\\_") + "%");
        });
        var found = VmEntity.find(query.toString(), Sort.by("name").and("id"), params);
        long total = found.count();
        List<VmEntity> items = found.page(Page.of(page, size)).list();
        items.forEach(VmEntity::loaded);
        return new PageOf<>(items, page, size, total);
    }

    /**
     * The VM, if the caller may see it; for others it does not exist (404), and their attempt is
     * audited as a denial of {@code auditAction}.
     */
    @Transactional
    public VmEntity visible(Caller caller, String id, String auditAction) {
        VmEntity vm = wellFormed(id) ? VmEntity.findById(id) : null;
        if (vm == null) {
            throw new VmNotFoundException(id);
        }
        var decision = caller.decide(Permission.VM_READ, vm.owner);
        if (!decision.allowed()) {
            // Answered as if the VM did not exist, but recorded as what it is: a denied request.
            audit.recordDenial(caller, auditAction, "vm:" + id, null, decision.reason());
            throw new VmNotFoundException(id);
        }
        return vm.loaded();
    }

    /**
     * Creates the VM, owned by the caller and deployed from the template (null for none), with the blank
     * disks to create for it (by position). Intent first: the VM's row (marked {@code CREATING}, counted
     * in its owner's quota) and the audit entry of the request commit before the engine is asked; the
     * engine then defines it; then the mark is cleared and the outcome recorded. A server that dies
     * between these steps finishes or undoes the creation at its next start ({@link #reconcile}).
     */
    public VmEntity create(VmDefinition definition, Map<Integer, Long> blankDiskBytes, String templateId, Caller caller) {
        VmDefinition planned = engine.vms().plan(definition, blankDiskBytes);
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("name", planned.name());
        parameters.put("vcpus", planned.vcpus());
        parameters.put("memoryMib", planned.memoryMib());
        parameters.put("profile", planned.profile().name());
        if (templateId != null) {
            parameters.put("template", templateId);
        }
        parameters.put("disks", planned.disks().stream().map(d -> d.path().toString()).toList());
        String target = "vm:" + planned.id();
        QuarkusTransaction.requiringNew().run(() -> recordCreation(planned, blankDiskBytes, templateId, caller, parameters));
        CrashPoints.reached("vm.create.recorded");
        try {
            engine.vms().define(definition, blankDiskBytes);
        } catch (RuntimeException e) {
            QuarkusTransaction.requiringNew().run(() -> VmEntity.deleteById(planned.id()));
            audit.recordOutcome(caller, "vm.create", target, parameters, e.getMessage());
            throw e;
        }
        CrashPoints.reached("vm.create.defined");
        QuarkusTransaction.requiringNew().run(() -> VmEntity.update("pending = null where id = ?1", planned.id()));
        audit.recordOutcome(caller, "vm.create", target, Map.of("name", planned.name()), null);
        LOG.infof("VM '%s' (%s) created for %s on host %s", planned.name(), planned.id(), caller.username(), localHost.id());
        return QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>findById(planned.id()).loaded());
    }

    /** The first step of {@link #create}: the policy check under the owner's quota lock, the row, the intent. */
    private void recordCreation(VmDefinition planned, Map<Integer, Long> blankDiskBytes, String templateId,
            Caller caller, Map<String, Object> parameters) {
        Instant leaseEnds = null;
        if (policies.govern(caller, Permission.VM_CREATE)) {
            // Held until commit: nobody else adds to this owner's usage between the check and the insert.
            policies.lockQuota(caller.username());
            CreateCheck check = checkCreate(planned, blankDiskBytes, templateId, caller);
            if (!check.allowed()) {
                audit.recordDenial(caller, "vm.create", null, Map.of("name", String.valueOf(planned.name()),
                        "template", String.valueOf(templateId)), String.join("; ", check.reasons()));
                throw new PolicyDeniedException(check.reasons());
            }
            if (check.policy().leaseDays().configured()) {
                leaseEnds = Instant.now().plus(Duration.ofDays(check.policy().leaseDays().value()));
            }
        }
        if (VmEntity.findById(planned.id()) != null) {
            throw new VmAlreadyExistsException(planned.id());
        }
        VmEntity vm = VmEntity.of(planned, caller.username(), localHost.id(), Instant.now());
        vm.pending = VmEntity.Pending.CREATING;
        vm.templateId = templateId;
        vm.ownerGroups = caller.groups().stream().sorted().toArray(String[]::new);
        vm.leaseExpiresAt = leaseEnds;
        blankDiskBytes.forEach((position, bytes) -> vm.disks.get(position).sizeBytes = bytes);
        vm.persist();
        VmEntity.flush();
        audit.record(caller, "vm.create", "vm:" + vm.id, parameters, AuditOutcome.REQUESTED, null);
    }

    /**
     * What the caller's policies say of creating this VM, given what their VMs take up now: allowed, or
     * every reason not. For callers policies do not govern, always allowed. Changes nothing: this is
     * the dry run, and {@link #create} asks it too (holding the owner's quota lock).
     */
    @Transactional
    public CreateCheck checkCreate(VmDefinition definition, Map<Integer, Long> blankDiskBytes, String templateId,
            Caller caller) {
        if (!policies.govern(caller, Permission.VM_CREATE)) {
            return new CreateCheck(false, true, List.of(), null, null);
        }
        EffectivePolicy policy = policies.effective(caller);
        Usage usage = policies.usage(caller.username(), null);
        long diskMib = blankDiskBytes.values().stream().mapToLong(b -> (b + (1 << 20) - 1) >> 20).sum();
        int existingImages = definition.disks().size() - blankDiskBytes.size();
        Candidate candidate = new Candidate(templateId, localHost.hostGroup(), definition.vcpus(), definition.memoryMib(),
                diskMib, existingImages, true);
        List<String> reasons = PolicyCheck.refusals(caller.username(), policy, usage, candidate);
        return new CreateCheck(true, reasons.isEmpty(), reasons, policy, usage);
    }

    /** The outcome of {@link #checkCreate}; {@code policy} and {@code usage} are null for callers policies do not govern. */
    public record CreateCheck(boolean governed, boolean allowed, List<String> reasons, EffectivePolicy policy, Usage usage) {
    }

    /**
     * Changes a VM's settings. A new name is taken in any state; anything else only while the VM is Off
     * (the engine refuses otherwise, naming the state). Returns the fields changed, each with its old
     * and new value; nothing changed is no change and no audit entry.
     */
    @Transactional
    public Map<String, Object> reconfigure(String id, VmSettings settings, Caller caller) {
        VmEntity vm = VmEntity.findById(id);
        if (vm == null) {
            throw new VmNotFoundException(id);
        }
        VmDefinition before = engine.vms().status(vm.id).definition();
        VmDefinition after = settings.applyTo(before);
        Map<String, Object> changes = settings.changes(before, after);
        if (changes.isEmpty()) {
            return changes;
        }
        boolean grows = after.vcpus() > before.vcpus() || after.memoryMib() > before.memoryMib();
        if (grows && policies.govern(caller, Permission.VM_RECONFIGURE)) {
            policies.lockQuota(vm.owner);
            Usage others = policies.usage(vm.owner, vm.id);
            long diskMib = vm.disks.stream().mapToLong(d -> d.sizeBytes == null ? 0 : d.sizeBytes >> 20).sum();
            List<String> reasons = PolicyCheck.refusals(caller.username(), policies.effective(caller), others,
                    new Candidate(vm.templateId, localHost.hostGroup(), after.vcpus(), after.memoryMib(), diskMib, 0, false));
            if (!reasons.isEmpty()) {
                audit.recordDenial(caller, "vm.reconfigure", "vm:" + vm.id, changes, String.join("; ", reasons));
                throw new PolicyDeniedException(reasons);
            }
        }
        try {
            if (changes.keySet().equals(Set.of("name"))) {
                engine.vms().rename(vm.id, after.name());
            } else {
                engine.vms().redefine(after);
            }
        } catch (EngineException e) {
            audit.recordFailure(caller, "vm.reconfigure", "vm:" + vm.id, changes, e.getMessage());
            throw e;
        }
        try {
            vm.applySettings(after);
            vm.updatedAt = Instant.now();
            VmEntity.flush();
            audit.record(caller, "vm.reconfigure", "vm:" + vm.id, changes, AuditOutcome.SUCCEEDED, null);
        } catch (RuntimeException e) {
            // The engine took the change but the inventory could not: put the engine back as it was.
            if (changes.keySet().equals(Set.of("name"))) {
                engine.vms().rename(vm.id, before.name());
            } else {
                engine.vms().redefine(before);
            }
            throw e;
        }
        LOG.infof("VM '%s' (%s) reconfigured by %s: %s", vm.name, vm.id, caller.username(), changes);
        return changes;
    }

    /**
     * Removes the VM from the engine (which refuses unless it is Off or Saved), with the disks it owns,
     * and from the inventory. Returns the disk images deleted; images the VM only used are kept.
     * Intent first, as for {@link #create}: the row is marked {@code DELETING} with the request's audit
     * entry before the engine deletes anything, and goes with the outcome's entry after.
     */
    public List<String> delete(String id, Caller caller) {
        String target = "vm:" + id;
        String name = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = wellFormed(id) ? VmEntity.findById(id) : null;
            if (vm == null) {
                throw new VmNotFoundException(id);
            }
            requireActionable(vm);
            engine.vms().find(id).ifPresent(status -> VmStateMachine.check(VmAction.DELETE, status.state(), vm.name));
            vm.pending = VmEntity.Pending.DELETING;
            VmEntity.flush();
            audit.record(caller, "vm.delete", target, Map.of("name", vm.name), AuditOutcome.REQUESTED, null);
            return vm.name;
        });
        CrashPoints.reached("vm.delete.recorded");
        List<String> kept;
        List<String> deleted;
        try {
            kept = QuarkusTransaction.requiringNew().call(() -> VmEntity.<VmEntity>findById(id).disks.stream()
                    .map(d -> d.path).filter(p -> !engine.images().owns(id, Path.of(p))).toList());
            deleted = deleteFromEngine(id);
        } catch (RuntimeException e) {
            QuarkusTransaction.requiringNew().run(() -> VmEntity.update("pending = null where id = ?1", id));
            audit.recordOutcome(caller, "vm.delete", target, Map.of("name", name), e.getMessage());
            throw e;
        }
        CrashPoints.reached("vm.delete.deleted");
        QuarkusTransaction.requiringNew().run(() -> VmEntity.deleteById(id));
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("name", name);
        parameters.put("deletedDisks", deleted);
        parameters.put("keptDisks", kept);
        audit.recordOutcome(caller, "vm.delete", target, parameters, null);
        LOG.infof("VM '%s' (%s) deleted by %s on host %s", name, id, caller.username(), localHost.id());
        return deleted;
    }

    private List<String> deleteFromEngine(String id) {
        try {
            return engine.vms().delete(id).stream().map(Object::toString).toList();
        } catch (VmNotFoundException e) {
            LOG.infof("VM %s was already gone from the engine", id);
            return List.of();
        }
    }

    /**
     * Refuses (409, with the reason) to act on a VM this server cannot act on now: one another host
     * runs, or one whose creation or deletion is under way. Every path that reaches the engine for a VM
     * asks this first.
     */
    public void requireActionable(VmEntity vm) {
        if (!vm.hostId.equals(localHost.id())) {
            throw new VmConflictException("VM '" + vm.name + "' is on host " + vm.hostId + ", not on " + localHost.id()
                    + ", the host of this server; ask host " + vm.hostId + "'s server");
        }
        if (vm.pending != null) {
            throw new VmConflictException("VM '" + vm.name + "' is being "
                    + (vm.pending == VmEntity.Pending.CREATING ? "created" : "deleted") + "; try again when that has ended");
        }
    }

    private void onEngineEvent(VmEvent event) {
        if (event instanceof VmEvent.StateChanged change) {
            stateWriter.execute(() -> record(change.vmId(), change.to(), change.reason(), change.at()));
        }
    }

    private void record(String id, io.hypervise.engine.vm.VmState state, String reason, Instant since) {
        try {
            QuarkusTransaction.requiringNew().run(() -> VmEntity.update(
                    "state = ?1, stateReason = ?2, stateSince = ?3, updatedAt = ?4 where id = ?5",
                    state, truncate(reason), since, Instant.now(), id));
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
        Map<String, VmStatus> running = engine.vms().list().stream()
                .collect(Collectors.toMap(VmStatus::id, Function.identity()));
        Caller host = Caller.host();
        QuarkusTransaction.requiringNew().run(() -> {
            List<VmEntity> recorded = VmEntity.list("hostId", localHost.id());
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
                    vm.stateReason = truncate(status.reason());
                    vm.stateSince = status.since();
                }
            }
            for (VmStatus status : running.values()) {
                if (!known.contains(status.id())) {
                    VmEntity vm = VmEntity.of(status.definition(), Caller.HOST, localHost.id(), Instant.now());
                    vm.state = status.state();
                    vm.stateReason = truncate(status.reason());
                    vm.persist();
                    VmEntity.flush();
                    audit.record(host, "vm.adopt", "vm:" + vm.id, Map.of("name", vm.name), AuditOutcome.SUCCEEDED, null);
                    LOG.warnf("recorded VM '%s' (%s), found in the engine of host %s without a record; it is owned by %s",
                            vm.name, vm.id, localHost.id(), Caller.HOST);
                }
            }
        });
    }

    /**
     * Finishes or undoes what a dying server left half done to this VM, auditing the outcome as the host.
     * Returns the engine's status of the VM if it stays, null if it is gone.
     */
    private VmStatus settlePending(VmEntity vm, VmStatus status, Caller host) {
        String target = "vm:" + vm.id;
        String interrupted = "the server of host " + localHost.id() + " stopped while it ran; settled at its next start";
        if (vm.pending == VmEntity.Pending.CREATING && status != null) {
            vm.pending = null;
            audit.record(host, "vm.create", target, Map.of("name", vm.name, "completedAtStart", true), AuditOutcome.SUCCEEDED, null);
            LOG.infof("VM '%s' (%s): its creation, interrupted, was completed (the engine had defined it)", vm.name, vm.id);
            return status;
        }
        if (vm.pending == VmEntity.Pending.CREATING) {
            List<String> removed = engine.vms().discardLeftovers(vm.id).stream().map(Object::toString).toList();
            vm.delete();
            audit.record(host, "vm.create", target, Map.of("name", vm.name, "removed", removed), AuditOutcome.FAILED,
                    interrupted + " before the engine had defined the VM; nothing of it is left");
            LOG.infof("VM '%s' (%s): its creation, interrupted before the engine defined it, was undone", vm.name, vm.id);
            return null;
        }
        List<String> kept = vm.disks.stream().map(d -> d.path).filter(p -> !engine.images().owns(vm.id, Path.of(p))).toList();
        List<String> deleted;
        try {
            deleted = status == null ? engine.vms().discardLeftovers(vm.id).stream().map(Object::toString).toList()
                    : deleteFromEngine(vm.id);
        } catch (EngineException e) {
            vm.pending = null;
            audit.record(host, "vm.delete", target, Map.of("name", vm.name), AuditOutcome.FAILED, interrupted + ": " + e.getMessage());
            LOG.warnf("VM '%s' (%s): its deletion, interrupted, could not be finished: %s", vm.name, vm.id, e.getMessage());
            return status;
        }
        vm.delete();
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("name", vm.name);
        parameters.put("deletedDisks", deleted);
        parameters.put("keptDisks", kept);
        parameters.put("completedAtStart", true);
        audit.record(host, "vm.delete", target, parameters, AuditOutcome.SUCCEEDED, null);
        LOG.infof("VM '%s' (%s): its deletion, interrupted, was completed", vm.name, vm.id);
        return null;
    }

    private VmStatus defineAgain(VmEntity vm) {
        try {
            VmStatus status = engine.vms().define(vm.toDefinition());
            LOG.infof("VM '%s' (%s) defined again in the engine from its record", vm.name, vm.id);
            return status;
        } catch (EngineException e) {
            vm.state = io.hypervise.engine.vm.VmState.OFF;
            vm.stateReason = truncate("cannot be defined on this host: " + e.getMessage());
            LOG.warnf("VM '%s' (%s) cannot be defined on this host: %s", vm.name, vm.id, e.getMessage());
            return null;
        }
    }

    /** An id that cannot exist is not looked up: no VM has it, whatever bytes it holds. */
    private static boolean wellFormed(String id) {
        return id != null && ID.matcher(id).matches();
    }

    private static String truncate(String reason) {
        return reason == null || reason.length() <= 1000 ? reason : reason.substring(0, 997) + "...";
    }

    /** A page of results and how many there are in all. */
    public record PageOf<T>(List<T> items, int page, int size, long total) {
    }
}
