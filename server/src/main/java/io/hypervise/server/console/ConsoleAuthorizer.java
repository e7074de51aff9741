package io.hypervise.server.console;

import io.hypervise.engine.Engine;
import io.hypervise.engine.display.VmDisplay;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Decision;
import io.hypervise.server.access.Permission;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmInventory;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.PolicyCheck;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.policy.SelfServicePolicies;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Map;

/**
 * Decides whether a caller may open a VM's console, and how: with {@code vm-console} fully (or
 * view-only if they ask), with only {@code vm-console-view} view-only. Every refusal is audited as a
 * denial of {@code vm.console}; a VM the caller may not even see is answered as not found.
 */
@ApplicationScoped
public class ConsoleAuthorizer {

    static final String ACTION = "vm.console";

    @Inject
    VmInventory inventory;

    @Inject
    Engine engine;

    @Inject
    AuditLog audit;

    @Inject
    SelfServicePolicies policies;

    /** The grant for a console session: who, and how, on a VM whose display is there now (else 409). */
    public ConsoleGrant authorize(Caller caller, String vmId, boolean viewOnlyAsked) {
        ConsoleGrant grant = decide(caller, vmId, viewOnlyAsked);
        if (!grant.display().isAvailable()) {
            // Not a refusal of the caller: the VM is off (or starting); the page retries.
            VmEntity vm = inventory.visible(caller, vmId, ACTION);
            throw new ConsoleRefusal(409, "VM '" + vm.name + "' has no display now: it is " + vm.state);
        }
        return grant;
    }

    /** Whether, and how, the caller may have the VM's console, whatever the VM's state. */
    public ConsoleGrant decide(Caller caller, String vmId, boolean viewOnlyAsked) {
        Map<String, Object> asked = Map.of("viewOnly", viewOnlyAsked);
        if (caller.username().equals(Caller.ANONYMOUS)) {
            String reason = "sign in first: open the console page, which signs you in with Keycloak";
            audit.recordDenial(caller, ACTION, "vm:" + vmId, asked, reason);
            throw new ConsoleRefusal(401, reason);
        }
        VmEntity vm;
        try {
            vm = inventory.visible(caller, vmId, ACTION);
        } catch (VmNotFoundException e) {
            throw new ConsoleRefusal(404, e.getMessage());
        }
        boolean viewOnly = viewOnlyAsked;
        Decision full = caller.decide(Permission.VM_CONSOLE, vm.owner);
        if (!full.allowed()) {
            Decision watch = caller.decide(Permission.VM_CONSOLE_VIEW, vm.owner);
            if (!watch.allowed()) {
                audit.recordDenial(caller, ACTION, "vm:" + vmId, asked, full.reason());
                throw new ConsoleRefusal(403, full.reason());
            }
            viewOnly = true;
        }
        if (policies.govern(caller, Permission.VM_CONSOLE)) {
            // Self-service users: their policies say whether they get the console, only to watch, or not at all.
            EffectivePolicy policy = policies.effective(caller);
            if (!viewOnly && !policy.allows(SelfServiceAction.CONSOLE)) {
                viewOnly = true;
            }
            if (viewOnly && !policy.allows(SelfServiceAction.CONSOLE_VIEW_ONLY) && !policy.allows(SelfServiceAction.CONSOLE)) {
                String reason = PolicyCheck.actionRefusal(caller.username(), policy, SelfServiceAction.CONSOLE_VIEW_ONLY);
                audit.recordDenial(caller, ACTION, "vm:" + vmId, asked, reason);
                throw new ConsoleRefusal(403, reason);
            }
        }
        VmDisplay display = engine.vms().display(vmId);
        return new ConsoleGrant(caller, vmId, display, viewOnly);
    }
}
