package io.hypervise.server.jobs;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.UUID;

/** Following a long operation: its state, progress and outcome. */
@Path("/api/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
public class JobResource {

    @Inject
    CurrentCaller current;

    @GET
    @Path("{id}")
    @Requires(Permission.JOB_READ)
    @Transactional
    public JobView get(@PathParam("id") String id) {
        JobEntity job = parse(id) == null ? null : JobEntity.findById(parse(id));
        Caller caller = current.get();
        if (job == null || !caller.decide(Permission.JOB_READ, job.actor).allowed()) {
            throw new NotFoundException("no job with id '" + id + "'");
        }
        return JobView.of(job);
    }

    private static UUID parse(String id) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
