package io.hypervise.server.checkpoint;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.NotFoundRefusal;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmConflictException;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.policy.Candidate;
import io.hypervise.server.policy.PolicyCheck;
import io.hypervise.server.policy.PolicyDeniedException;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.policy.Usage;
import io.hypervise.server.vm.VmOperation;
import io.hypervise.server.vm.VmService;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * What callers do with checkpoints: take, apply, delete (jobs, as the engine's steps take time) and rename.
 * Each asks {@link VmAccess} with its operation (the policy's {@code checkpoint} action governs them for
 * self-service users), records the intent (the row marked, the audit entry) before the engine acts and the
 * outcome after, and keeps the tree: a new checkpoint hangs under the one the VM is at, a deleted one's
 * children move up to its parent.
 */
@ApplicationScoped
public class Checkpoints {

    private static final Logger LOG = Logger.getLogger(Checkpoints.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    @Inject
    Engine engine;

    @Inject
    VmAccess access;

    @Inject
    VmService vms;

    @Inject
    AuditLog audit;

    @Inject
    Jobs jobs;

    @Inject
    SelfServicePolicies policies;

    @Inject
    LocalHost localHost;

    /** The VM's checkpoints, oldest first, each naming its parent. */
    public List<CheckpointView> list(Caller caller, String vmId) {
        return QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, vmId, VmOperation.READ);
            List<CheckpointEntity> all = CheckpointEntity.list("vmId = ?1 order by createdAt, id", vm.id);
            // Read after the list: a checkpoint seen settled was made current in the same commit, so the mark
            // read now is at least as new as the rows (read before, it could lag a take that just ended).
            String current = (String) CheckpointEntity.getEntityManager().createNativeQuery(
                    "SELECT current_checkpoint_id FROM vms WHERE id = ?1").setParameter(1, vm.id).getSingleResult();
            return all.stream().map(c -> CheckpointView.of(c, current)).toList();
        });
    }

    /**
     * Takes a checkpoint, as a job: of a running or paused VM with its memory, of an Off one of its disks. Refused
     * at once (400) for a VM with a disk that cannot hold one, naming the disk; (409) in a state that allows none;
     * (403) for a self-service user whose policies do not name {@code checkpoint} or whose disk quota is used up.
     */
    public JobView take(Caller caller, String vmId, String name) {
        String label = name(name);
        String id = "cp-" + HexFormat.of().formatHex(bytes(8));
        String action = VmOperation.CHECKPOINT.auditName();
        String target = AuditLog.vm(vmId);
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("checkpoint", id);
        parameters.put("name", label);
        String vmName = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, vmId, VmOperation.CHECKPOINT);
            vms.requireActionable(vm);
            VmStatus status = engine.vms().status(vm.id);
            VmStateMachine.check(VmOperation.CHECKPOINT.engineAction(), status.state(), vm.name);
            engine.vms().checkCheckpointable(vm.id);
            if (policies.govern(caller, Permission.VM_OPERATE)) {
                checkQuota(caller, vm, status.state() == VmState.OFF ? 0 : vm.memoryMib);
            }
            CheckpointEntity c = new CheckpointEntity();
            c.id = id;
            c.vmId = vm.id;
            c.parentId = vm.currentCheckpointId;
            c.name = label;
            c.memory = status.state() != VmState.OFF;
            c.createdAt = Instant.now();
            c.createdBy = caller.username();
            c.pending = CheckpointEntity.Pending.TAKING;
            c.persist();
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
            return vm.name;
        });
        return submitOrUndo(caller, action, target, parameters, () -> CheckpointEntity.deleteById(id),
                () -> jobs.submit(VmOperation.CHECKPOINT.jobKind(), vmId, target, caller.username(), progress -> {
            long before = engine.vms().checkpointedBytes(vmId);
            boolean memory;
            try {
                memory = engine.vms().takeCheckpoint(vmId, id);
            } catch (RuntimeException e) {
                // A checkpoint taken on some disks and not others is no checkpoint: take back what was made.
                try {
                    engine.vms().deleteCheckpoint(vmId, id);
                } catch (RuntimeException ignored) {
                    // nothing was made, or the VM is gone
                }
                QuarkusTransaction.requiringNew().run(() -> CheckpointEntity.deleteById(id));
                throw e;
            }
            // The file's growth, but never less than the memory it keeps: a checkpoint taken into room an earlier
            // one freed does not grow the file, yet holds as much.
            long size = Math.max(Math.max(0, engine.vms().checkpointedBytes(vmId) - before),
                    memory ? engine.vms().checkpointStateBytes(vmId, id) : 0);
            QuarkusTransaction.requiringNew().run(() -> {
                CheckpointEntity.update("pending = null, memory = ?1, sizeBytes = ?2 where id = ?3", memory, size, id);
                VmEntity.update("currentCheckpointId = ?1 where id = ?2", id, vmId);
            });
            LOG.infof("VM '%s' (%s): checkpoint '%s' (%s) taken by %s on host %s, %s, %d bytes", vmName, vmId, label, id,
                    caller.username(), localHost.id(), memory ? "with its memory" : "of its disks", size);
        }, error -> audit.recordOutcome(caller, action, target, parameters, error)));
    }

    /**
     * Applies a checkpoint, as a job: one with memory leaves the VM running where it was when it was taken;
     * one of disks only is applied to an Off VM (409 otherwise, saying so).
     */
    public JobView apply(Caller caller, String vmId, String checkpointId) {
        String action = VmOperation.APPLY_CHECKPOINT.auditName();
        String target = AuditLog.vm(vmId);
        Map<String, Object> parameters = Map.of("checkpoint", checkpointId);
        CheckpointEntity checkpoint = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, vmId, VmOperation.APPLY_CHECKPOINT);
            vms.requireActionable(vm);
            CheckpointEntity c = settled(vm, checkpointId);
            VmStatus status = engine.vms().status(vm.id);
            VmStateMachine.check(VmOperation.APPLY_CHECKPOINT.engineAction(), status.state(), vm.name);
            if (!c.memory && status.state() != VmState.OFF) {
                throw new VmConflictException("VM '" + vm.name + "' is " + status.state().displayName() + "; checkpoint '"
                        + c.name + "' was taken while it was Off and holds no memory: turn the VM off to apply it");
            }
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
            return c;
        });
        return jobs.submit(VmOperation.APPLY_CHECKPOINT.jobKind(), vmId, target, caller.username(), progress -> {
            engine.vms().applyCheckpoint(vmId, checkpoint.id, checkpoint.memory);
            QuarkusTransaction.requiringNew().run(() -> VmEntity.update("currentCheckpointId = ?1 where id = ?2",
                    checkpoint.id, vmId));
            LOG.infof("VM (%s): checkpoint '%s' (%s) applied by %s on host %s", vmId, checkpoint.name, checkpoint.id,
                    caller.username(), localHost.id());
        }, error -> audit.recordOutcome(caller, action, target, parameters, error));
    }

    /**
     * Deletes a checkpoint, as a job: its data that nothing else holds is freed, and nothing the VM or any
     * other checkpoint holds changes; its children hang under its parent from then on.
     */
    public JobView delete(Caller caller, String vmId, String checkpointId) {
        String action = VmOperation.DELETE_CHECKPOINT.auditName();
        String target = AuditLog.vm(vmId);
        Map<String, Object> parameters = Map.of("checkpoint", checkpointId);
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = access.require(caller, vmId, VmOperation.DELETE_CHECKPOINT);
            vms.requireActionable(vm);
            CheckpointEntity c = settled(vm, checkpointId);
            VmStatus status = engine.vms().status(vm.id);
            VmStateMachine.check(VmOperation.DELETE_CHECKPOINT.engineAction(), status.state(), vm.name);
            c.pending = CheckpointEntity.Pending.DELETING;
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
        });
        return submitOrUndo(caller, action, target, parameters,
                () -> CheckpointEntity.update("pending = null where id = ?1", checkpointId),
                () -> jobs.submit(VmOperation.DELETE_CHECKPOINT.jobKind(), vmId, target, caller.username(), progress -> {
            try {
                engine.vms().deleteCheckpoint(vmId, checkpointId);
            } catch (RuntimeException e) {
                QuarkusTransaction.requiringNew().run(() -> CheckpointEntity.update("pending = null where id = ?1", checkpointId));
                throw e;
            }
            QuarkusTransaction.requiringNew().run(() -> forget(checkpointId));
            LOG.infof("VM (%s): checkpoint %s deleted by %s on host %s", vmId, checkpointId, caller.username(), localHost.id());
        }, error -> audit.recordOutcome(caller, action, target, parameters, error)));
    }

    /**
     * Submits the job whose intent is recorded; if the job cannot even be recorded (the database refuses it),
     * the intent is undone and its outcome recorded, so nothing stays marked for an operation that never ran.
     */
    private JobView submitOrUndo(Caller caller, String action, String target, Map<String, Object> parameters,
            Runnable undo, java.util.function.Supplier<JobView> submit) {
        try {
            return submit.get();
        } catch (RuntimeException e) {
            try {
                QuarkusTransaction.requiringNew().run(undo);
                audit.recordOutcome(caller, action, target, parameters, "the job could not be recorded: " + e.getMessage());
            } catch (RuntimeException again) {
                e.addSuppressed(again);
            }
            throw e;
        }
    }

    /** Renames a checkpoint: its name is for people; the disks know it by its id. */
    public CheckpointView rename(Caller caller, String vmId, String checkpointId, String name) {
        String label = name(name);
        return QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, vmId, VmOperation.CHECKPOINT);
            CheckpointEntity c = settled(vm, checkpointId);
            String before = c.name;
            c.name = label;
            audit.record(caller, VmOperation.RENAME_CHECKPOINT.auditName(), AuditLog.vm(vmId),
                    Map.of("checkpoint", checkpointId, "name", label, "was", before), AuditOutcome.SUCCEEDED, null);
            return CheckpointView.of(c, vm.currentCheckpointId);
        });
    }

    /** Removes the row of a deleted checkpoint: its children move up to its parent, and so does the VM's mark. */
    private static void forget(String checkpointId) {
        CheckpointEntity c = CheckpointEntity.findById(checkpointId);
        if (c == null) {
            return;
        }
        CheckpointEntity.update("parentId = ?1 where parentId = ?2", c.parentId, c.id);
        VmEntity.update("currentCheckpointId = ?1 where currentCheckpointId = ?2", c.parentId, c.id);
        c.delete();
    }

    /**
     * Settles what a server that died mid-operation left: a checkpoint being taken is taken back (it may exist
     * on some disks), one being deleted is deleted. Called once the engine has recovered its VMs.
     */
    public void settleInterrupted(Caller host) {
        List<CheckpointEntity> pending = QuarkusTransaction.requiringNew().call(() ->
                CheckpointEntity.<CheckpointEntity>list("pending is not null"));
        for (CheckpointEntity c : pending) {
            boolean taking = c.pending == CheckpointEntity.Pending.TAKING;
            try {
                engine.vms().deleteCheckpoint(c.vmId, c.id);
            } catch (RuntimeException e) {
                // not made (or no longer there): nothing to take back
            }
            QuarkusTransaction.requiringNew().run(() -> forget(c.id));
            audit.record(host, taking ? VmOperation.CHECKPOINT.auditName() : VmOperation.DELETE_CHECKPOINT.auditName(),
                    AuditLog.vm(c.vmId), Map.of("checkpoint", c.id, "name", c.name), taking ? AuditOutcome.FAILED
                            : AuditOutcome.SUCCEEDED, taking ? "the server of host " + localHost.id()
                            + " stopped while it was being taken; taken back at its next start" : null);
            LOG.infof("VM (%s): checkpoint %s, %s when the server stopped, settled", c.vmId, c.id, taking ? "being taken" : "being deleted");
        }
    }

    /** A checkpoint of this VM that nothing is being done to (404 if the VM has none of that id, 409 if busy). */
    private static CheckpointEntity settled(VmEntity vm, String checkpointId) {
        CheckpointEntity c = CheckpointEntity.findById(checkpointId);
        if (c == null || !c.vmId.equals(vm.id)) {
            throw new NotFoundRefusal("VM '" + vm.name + "' has no checkpoint '" + checkpointId + "'; see GET /api/v1/vms/"
                    + vm.id + "/checkpoints");
        }
        if (c.pending != null) {
            throw new VmConflictException("checkpoint '" + c.name + "' is being " + (c.pending == CheckpointEntity.Pending.TAKING
                    ? "taken" : "deleted") + "; try again when that has ended");
        }
        return c;
    }

    /** The disk quota, counting this VM's disks and checkpoints and what the new one may add (its memory). */
    private void checkQuota(Caller caller, VmEntity vm, long addedMib) {
        policies.lockQuota(vm.owner);
        Usage others = policies.usage(vm.owner, vm.id);
        long own = vm.disks.stream().mapToLong(d -> d.sizeBytes == null ? 0 : d.sizeBytes).sum()
                + ((Number) CheckpointEntity.getEntityManager().createNativeQuery(
                        "SELECT coalesce(sum(size_bytes), 0) FROM checkpoints WHERE vm_id = ?1")
                        .setParameter(1, vm.id).getSingleResult()).longValue();
        List<String> reasons = PolicyCheck.refusals(caller.username(), policies.effective(caller), others,
                new Candidate(vm.templateId, localHost.hostGroup(), vm.vcpus, vm.memoryMib, (own >> 20) + addedMib, 0, false));
        if (!reasons.isEmpty()) {
            audit.recordDenial(caller, VmOperation.CHECKPOINT.auditName(), AuditLog.vm(vm.id), null, String.join("; ", reasons));
            throw new PolicyDeniedException(reasons);
        }
    }

    private static String name(String name) {
        if (name == null || name.isBlank() || name.length() > 100 || name.chars().anyMatch(Character::isISOControl)) {
            throw new InvalidRequestException("checkpoint", List.of(new FieldError("name",
                    "is required: 1 to 100 characters, without control characters")));
        }
        return name.strip();
    }

    private static byte[] bytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}
