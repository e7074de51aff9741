package io.hypervise.server.access;

import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.PolicyCheck;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.vm.VmOperation;
import java.time.Instant;
import java.util.Optional;

/**
 * Who may do what to a VM, in one place: the API, the pages, the console and the thumbnails all ask
 * this. Pure: the same caller, VM and policy give the same decision, and it can be tested as such.
 *
 * <p>In order: a VM the caller may not read does not exist for them (404); then their roles must give
 * the operation's permission on it (403 naming the role they lack); then, for self-service users, their
 * policies must allow the operation (403 naming the policy), and a VM whose lease has ended does not
 * start.
 */
public final class VmAccessRule {

    private VmAccessRule() {
    }

    /** What the rule needs to know of a VM. */
    public record Subject(String id, String name, String owner, Instant leaseExpiresAt, Instant leaseStoppedAt) {
    }

    /**
     * @param policy the caller's effective policy, or null when policies govern nothing the caller does;
     *        it is applied to an operation only where it governs that operation's permission
     */
    public static VmDecision decide(Caller caller, Subject vm, VmOperation operation, EffectivePolicy policy) {
        if (caller.isHost()) {
            // The server acting on its own (leases, the demo VM): what it does is audited as the host's.
            return VmDecision.allow(false);
        }
        Decision read = caller.decide(Permission.VM_READ, vm.owner());
        if (!read.allowed()) {
            return VmDecision.notFound(read.reason());
        }
        return switch (operation) {
            case CONSOLE -> console(caller, vm, policy);
            case SCREEN -> screen(caller, vm, policy);
            default -> other(caller, vm, operation, policy);
        };
    }

    private static VmDecision other(Caller caller, Subject vm, VmOperation operation, EffectivePolicy policy) {
        Decision role = caller.decide(operation.permission(), vm.owner());
        if (!role.allowed()) {
            return VmDecision.forbidden(role.reason());
        }
        if (!governs(caller, operation.permission(), policy)) {
            return VmDecision.allow(false);
        }
        if (operation.policyAction() != null) {
            String refusal = PolicyCheck.actionRefusal(caller.username(), policy, operation.policyAction());
            if (refusal != null) {
                return VmDecision.refusedByPolicy(refusal);
            }
        }
        if (operation == VmOperation.START && vm.leaseStoppedAt() != null) {
            return VmDecision.refusedByPolicy("the lease of VM '" + vm.name() + "' ended at " + vm.leaseExpiresAt()
                    + "; an administrator can extend it");
        }
        return VmDecision.allow(false);
    }

    /**
     * With {@code vm-console} the console is the caller's to use, with only {@code vm-console-view} to
     * watch; a self-service user's policies may narrow that to watching, or to nothing.
     */
    private static VmDecision console(Caller caller, Subject vm, EffectivePolicy policy) {
        Decision full = caller.decide(Permission.VM_CONSOLE, vm.owner());
        boolean watchOnly = false;
        if (!full.allowed()) {
            if (!caller.decide(Permission.VM_CONSOLE_VIEW, vm.owner()).allowed()) {
                return VmDecision.forbidden(full.reason());
            }
            watchOnly = true;
        }
        if (governs(caller, Permission.VM_CONSOLE, policy)) {
            watchOnly |= !policy.allows(SelfServiceAction.CONSOLE);
            if (watchOnly && !mayWatch(policy)) {
                return VmDecision.refusedByPolicy(
                        PolicyCheck.actionRefusal(caller.username(), policy, SelfServiceAction.CONSOLE_VIEW_ONLY));
            }
        }
        return VmDecision.allow(watchOnly);
    }

    /** A screen is the console's: whoever may at least watch the console may see it, nobody else. */
    private static VmDecision screen(Caller caller, Subject vm, EffectivePolicy policy) {
        Decision role = caller.decide(Permission.VM_CONSOLE_VIEW, vm.owner());
        if (!role.allowed()) {
            return VmDecision.forbidden(role.reason());
        }
        if (governs(caller, Permission.VM_CONSOLE_VIEW, policy) && !mayWatch(policy)) {
            return VmDecision.refusedByPolicy(
                    PolicyCheck.actionRefusal(caller.username(), policy, SelfServiceAction.CONSOLE_VIEW_ONLY));
        }
        return VmDecision.allow(true);
    }

    private static boolean mayWatch(EffectivePolicy policy) {
        return policy.allows(SelfServiceAction.CONSOLE_VIEW_ONLY) || policy.allows(SelfServiceAction.CONSOLE);
    }

    /**
     * The owner a list of VMs is narrowed to for this caller: this rule's first step (a VM the caller
     * may not read does not exist for them) as a filter; empty where the caller reads every VM.
     */
    public static Optional<String> onlyOwnedBy(Caller caller) {
        return caller.reach(Permission.VM_READ) == Reach.OWN ? Optional.of(caller.username()) : Optional.empty();
    }

    /** Whether policies limit what the caller does with the permission: they govern self-service users. */
    public static boolean governs(Caller caller, Permission permission, EffectivePolicy policy) {
        return policy != null && caller.reach(permission) == Reach.OWN;
    }
}
