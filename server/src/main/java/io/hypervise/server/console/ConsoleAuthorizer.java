package io.hypervise.server.console;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.access.VmDecision;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.vm.VmOperation;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Map;

/**
 * Whether a caller may open a VM's console, and how (to use, or only to watch), as {@link VmAccess}
 * decides for {@link VmOperation#CONSOLE}, answered the way a WebSocket handshake can: a status and a
 * reason. Every refusal is audited as a denial of {@code vm.console}.
 */
@ApplicationScoped
public class ConsoleAuthorizer {

    @Inject
    VmAccess access;

    @Inject
    Engine engine;

    @Inject
    AuditLog audit;

    /** The grant for a console session: who, and how, on a VM whose display is there now (else 409). */
    public ConsoleGrant authorize(Caller caller, String vmId, boolean viewOnlyAsked) {
        VmAccess.Checked checked = check(caller, vmId, viewOnlyAsked);
        ConsoleGrant grant = grant(caller, vmId, viewOnlyAsked, checked.decision());
        if (!grant.display().isAvailable()) {
            // Not a refusal of the caller: the VM is off (or starting); the page retries.
            VmEntity vm = checked.vm();
            throw new ConsoleRefusal(409, "VM '" + vm.name + "' has no display now: it is " + vm.state);
        }
        return grant;
    }

    /** Whether, and how, the caller may have the VM's console, whatever the VM's state. */
    public ConsoleGrant decide(Caller caller, String vmId, boolean viewOnlyAsked) {
        return grant(caller, vmId, viewOnlyAsked, check(caller, vmId, viewOnlyAsked).decision());
    }

    /** The VM and the decision on its console; a refusal (audited) is thrown as the handshake answers it. */
    private VmAccess.Checked check(Caller caller, String vmId, boolean viewOnlyAsked) {
        Map<String, Object> asked = Map.of("viewOnly", viewOnlyAsked);
        if (caller.username().equals(Caller.ANONYMOUS)) {
            String reason = "sign in first: open the console page, which signs you in with Keycloak";
            audit.recordDenial(caller, VmOperation.CONSOLE.auditName(), AuditLog.vm(vmId), asked, reason);
            throw new ConsoleRefusal(401, reason);
        }
        VmAccess.Checked checked = access.decide(caller, vmId, VmOperation.CONSOLE, asked);
        VmDecision decision = checked.decision();
        switch (decision.verdict()) {
            case ALLOWED -> {
            }
            case NOT_FOUND -> throw new ConsoleRefusal(404, new VmNotFoundException(vmId).getMessage());
            case FORBIDDEN, REFUSED_BY_POLICY -> throw new ConsoleRefusal(403, decision.reason());
        }
        return checked;
    }

    private ConsoleGrant grant(Caller caller, String vmId, boolean viewOnlyAsked, VmDecision decision) {
        return new ConsoleGrant(caller, vmId, engine.vms().display(vmId), viewOnlyAsked || decision.watchOnly());
    }
}
