package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import jakarta.inject.Inject;
import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;

/** Read-only view of the host's VMs; creating and operating them comes with authentication. */
@Path("/api/v1/vms")
@Produces(MediaType.APPLICATION_JSON)
public class VmResource {

    private static final int MAX_LINES = 10_000;

    @Inject
    Engine engine;

    @GET
    public List<VmView> list() {
        return engine.vms().list().stream().map(VmView::of).toList();
    }

    @GET
    @Path("{id}")
    public VmView get(@PathParam("id") String id) {
        return VmView.of(engine.vms().status(id));
    }

    /** The last lines the guest wrote to its serial console. */
    @GET
    @Path("{id}/serial")
    @Produces(MediaType.TEXT_PLAIN)
    public String serial(@PathParam("id") String id, @QueryParam("lines") String linesParam) {
        int lines = lineCount(linesParam);
        List<String> tail = engine.vms().serialTail(id, lines);
        return tail.isEmpty() ? "" : String.join("\n", tail) + "\n";
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
