package io.hypervise.server.checkpoint;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.jobs.JobView;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.util.List;

/** A VM's checkpoints over HTTP. Thin: the rules are {@link Checkpoints}'. */
@Path("/api/v1/vms/{vm}/checkpoints")
@Produces(MediaType.APPLICATION_JSON)
public class CheckpointResource {

    @Inject
    Checkpoints checkpoints;

    @Inject
    CurrentCaller current;

    /** What a client sends to take or rename a checkpoint. */
    public record CheckpointRequest(String name) {
    }

    /** The VM's checkpoints, oldest first; {@code parent} makes the tree, {@code current} marks where the VM is. */
    @GET
    @Requires(Permission.VM_READ)
    public List<CheckpointView> list(@PathParam("vm") String vm) {
        return checkpoints.list(current.get(), vm);
    }

    /** Takes a checkpoint: 202 with the job (with the VM's memory if it runs, of its disks if it is Off). */
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_OPERATE)
    public Response take(@PathParam("vm") String vm, CheckpointRequest request) {
        return accepted(checkpoints.take(current.get(), vm, request == null ? null : request.name()));
    }

    /** Applies a checkpoint: 202 with the job. */
    @POST
    @Path("{id}/apply")
    @Requires(Permission.VM_OPERATE)
    public Response apply(@PathParam("vm") String vm, @PathParam("id") String id) {
        return accepted(checkpoints.apply(current.get(), vm, id));
    }

    /** Renames a checkpoint. */
    @PATCH
    @Path("{id}")
    @Consumes({MediaType.APPLICATION_JSON, "application/merge-patch+json"})
    @Requires(Permission.VM_OPERATE)
    public CheckpointView rename(@PathParam("vm") String vm, @PathParam("id") String id, CheckpointRequest request) {
        return checkpoints.rename(current.get(), vm, id, request == null ? null : request.name());
    }

    /** Deletes a checkpoint (what it alone holds is freed; nothing else changes): 202 with the job. */
    @DELETE
    @Path("{id}")
    @Requires(Permission.VM_OPERATE)
    public Response delete(@PathParam("vm") String vm, @PathParam("id") String id) {
        return accepted(checkpoints.delete(current.get(), vm, id));
    }

    private static Response accepted(JobView job) {
        return Response.accepted(job).location(URI.create("/api/v1/jobs/" + job.id())).build();
    }
}
