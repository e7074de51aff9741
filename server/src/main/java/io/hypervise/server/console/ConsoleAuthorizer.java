package io.hypervise.server.console;

import io.hypervise.engine.Engine;
import io.hypervise.engine.display.VmDisplay;
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
        ConsoleGrant grant = decide(caller, vmId, viewOnlyAsked);
        if (!grant.display().isAvailable()) {
            // Not a refusal of the caller: the VM is off (or starting); the page retries.
            VmEntity vm = access.require(caller, vmId, VmOperation.READ);
            throw new ConsoleRefusal(409, "VM '" + vm.name + "' has no display now: it is " + vm.state);
        }
        return grant;
    }

    /** Whether, and how, the caller may have the VM's console, whatever the VM's state. */
    public ConsoleGrant decide(Caller caller, String vmId, boolean viewOnlyAsked) {
        Map<String, Object> asked = Map.of("viewOnly", viewOnlyAsked);
        if (caller.username().equals(Caller.ANONYMOUS)) {
            String reason = "sign in first: open the console page, which signs you in with Keycloak";
            audit.recordDenial(caller, VmOperation.CONSOLE.auditName(), AuditLog.vm(vmId), asked, reason);
            throw new ConsoleRefusal(401, reason);
        }
        VmDecision decision = access.decide(caller, vmId, VmOperation.CONSOLE, asked).decision();
        switch (decision.verdict()) {
            case ALLOWED -> {
            }
            case NOT_FOUND -> throw new ConsoleRefusal(404, new VmNotFoundException(vmId).getMessage());
            case FORBIDDEN, REFUSED_BY_POLICY -> throw new ConsoleRefusal(403, decision.reason());
        }
        VmDisplay display = engine.vms().display(vmId);
        return new ConsoleGrant(caller, vmId, display, viewOnlyAsked || decision.watchOnly());
    }
}
