package io.hypervise.server.host;

import io.hypervise.engine.Engine;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

@Path("/api/v1/host")
@Produces(MediaType.APPLICATION_JSON)
public class HostResource {

    @Inject
    Engine engine;

    /** What this host can run: accelerator and why, CPUs, memory, QEMU. */
    @GET
    @Requires(Permission.HOST_READ)
    public HostView capabilities() {
        return HostView.of(engine.host());
    }
}
