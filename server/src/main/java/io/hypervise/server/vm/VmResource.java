package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import jakarta.inject.Inject;
import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;

/** Read-only view of the host's VMs; creating and operating them comes with authentication. */
@Path("/api/v1/vms")
@Produces(MediaType.APPLICATION_JSON)
public class VmResource {

    private static final int MAX_TAIL_BYTES = 256 * 1024;

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
    public String serial(@PathParam("id") String id, @QueryParam("lines") @DefaultValue("100") int lines)
            throws IOException {
        if (lines < 1 || lines > 10_000) {
            throw new BadRequestException("lines must be between 1 and 10000; got " + lines);
        }
        java.nio.file.Path log = engine.vms().serialLog(id);
        if (!Files.exists(log)) {
            return "";
        }
        try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "r")) {
            long from = Math.max(0, file.length() - MAX_TAIL_BYTES);
            byte[] buf = new byte[(int) (file.length() - from)];
            file.seek(from);
            file.readFully(buf);
            List<String> all = new String(buf, StandardCharsets.UTF_8).lines().toList();
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
        }
    }
}
