package io.hypervise.server.access;

import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmRepository;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.PolicyDeniedException;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.vm.VmOperation;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Arrays;
import java.util.List;

/**
 * Asks {@link VmAccessRule} for one caller, one VM and one operation, with what the rule needs loaded
 * (the VM's row, the caller's policies where they govern), and records every refusal in the audit log
 * as a denial of the operation. Every path that reaches a VM (API, pages, console, thumbnails) comes
 * through here.
 */
@ApplicationScoped
public class VmAccess {

    @Inject
    VmRepository vms;

    @Inject
    SelfServicePolicies policies;

    @Inject
    AuditLog audit;

    /** The VM (null for an id no VM has) and the decision on it (for the console: whether only to watch). */
    public record Checked(VmEntity vm, VmDecision decision) {
    }

    /** The VM, if the caller may do the operation on it; otherwise the refusal, audited and thrown (404 or 403). */
    public VmEntity require(Caller caller, String id, VmOperation operation) {
        return check(caller, id, operation, null).vm();
    }

    /**
     * The VM and the decision, if the operation is allowed; otherwise the refusal is audited (with
     * {@code asked}, what the caller asked for) and thrown: {@link VmNotFoundException} for a VM that is
     * not there or not theirs to see, 403 naming the role or policy that is missing.
     */
    public Checked check(Caller caller, String id, VmOperation operation, Object asked) {
        Checked granted = decide(caller, id, operation, asked);
        VmDecision decision = granted.decision();
        return switch (decision.verdict()) {
            case ALLOWED -> granted;
            case NOT_FOUND -> throw new VmNotFoundException(id);
            case REFUSED_BY_POLICY -> throw new PolicyDeniedException(List.of(decision.reason()));
            case FORBIDDEN -> throw new AccessDeniedException(decision.reason());
        };
    }

    /**
     * The decision for the caller, the VM and the operation, with the VM where there is one (null for an
     * id no VM has). A refusal of a VM that exists is recorded as a denial of the operation, even where
     * it is answered as if the VM did not exist.
     */
    public Checked decide(Caller caller, String id, VmOperation operation, Object asked) {
        VmEntity vm = vms.find(id).orElse(null);
        if (vm == null) {
            return new Checked(null, VmDecision.notFound(new VmNotFoundException(id).getMessage()));
        }
        // The policy is read only where it can change the answer: reading a VM asks none.
        boolean governed = operation.policyAction() != null && caller.reach(operation.permission()) == Reach.OWN;
        VmDecision decision = VmAccessRule.decide(caller, subject(vm), operation, governed ? policyOf(caller) : null);
        if (!decision.allowed()) {
            audit.recordDenial(caller, operation.auditName(), AuditLog.vm(id), asked, decision.reason());
        }
        return new Checked(vm, decision);
    }

    /** The caller's effective policy where policies govern anything they do with VMs, else null. */
    public EffectivePolicy policyOf(Caller caller) {
        return Arrays.stream(Permission.values()).anyMatch(p -> caller.reach(p) == Reach.OWN)
                ? policies.effective(caller) : null;
    }

    public static VmAccessRule.Subject subject(VmEntity vm) {
        return new VmAccessRule.Subject(vm.id, vm.name, vm.owner, vm.leaseExpiresAt, vm.leaseStoppedAt);
    }
}
