package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;

/**
 * Read-only view of the host's VMs. A caller sees the VMs their reach allows; for a self-service user
 * other people's VMs do not exist (404, not 403).
 */
@Path("/api/v1/vms")
@Produces(MediaType.APPLICATION_JSON)
@Requires(Permission.VM_READ)
public class VmResource {

    /**
     * Until the inventory records owners, every VM belongs to the host itself: administrators,
     * operators and auditors see them all, self-service users none.
     */
    static final String HOST_OWNER = "system";

    private static final int MAX_LINES = 10_000;

    @Inject
    Engine engine;

    @Inject
    CurrentCaller current;

    @GET
    public List<VmView> list() {
        return engine.vms().list().stream().filter(this::visible).map(VmView::of).toList();
    }

    @GET
    @Path("{id}")
    public VmView get(@PathParam("id") String id) {
        return VmView.of(visibleStatus(id));
    }

    /** The last lines the guest wrote to its serial console. */
    @GET
    @Path("{id}/serial")
    @Produces(MediaType.TEXT_PLAIN)
    public String serial(@PathParam("id") String id, @QueryParam("lines") String linesParam) {
        int lines = lineCount(linesParam);
        visibleStatus(id);
        List<String> tail = engine.vms().serialTail(id, lines);
        return tail.isEmpty() ? "" : String.join("\n", tail) + "\n";
    }

    private boolean visible(VmStatus status) {
        return current.get().decide(Permission.VM_READ, HOST_OWNER).allowed();
    }

    private VmStatus visibleStatus(String id) {
        VmStatus status = engine.vms().status(id);
        if (!visible(status)) {
            throw new VmNotFoundException(id);
        }
        return status;
    }

    private static int lineCount(String param) {
        if (param == null) {
            return 100;
        }
        try {
            int lines = Integer.parseInt(param.trim());
            if (lines >= 1 && lines <= MAX_LINES) {
                return lines;
            }
        } catch (NumberFormatException e) {
            // fall through to the same answer as an out-of-range number
        }
        throw new BadRequestException("lines: must be a whole number from 1 to " + MAX_LINES + "; got '" + param + "'");
    }
}
