package io.hypervise.server.jobs;

import io.hypervise.server.api.FieldError;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.QueryParameters;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Following long operations: their state, progress and outcome. Self-service users see their own. */
@Path("/api/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
public class JobResource {

    @Inject
    CurrentCaller current;

    @Inject
    Jobs jobs;

    /** One page of jobs, newest first, and how many there are in all. */
    public record Page(List<JobView> items, int page, int size, long total) {
    }

    /** Jobs newest first, optionally of one VM and in one state (queued, running, succeeded, failed, cancelled). */
    @GET
    @Requires(Permission.JOB_READ)
    public Page list(@QueryParam("vm") String vm, @QueryParam("state") String state, @QueryParam("page") String page,
            @QueryParam("size") String size) {
        List<FieldError> violations = new ArrayList<>();
        int p = QueryParameters.page(page, violations);
        int s = QueryParameters.size(size, violations);
        JobEntity.State wanted = state == null ? null : state(state, violations);
        QueryParameters.text("vm", vm, 40, violations);
        QueryParameters.check(violations);

        var found = jobs.list(current.get(), Optional.ofNullable(vm), Optional.ofNullable(wanted), p, s);
        return new Page(found.items(), p, s, found.total());
    }

    @GET
    @Path("{id}")
    @Requires(Permission.JOB_READ)
    public JobView get(@PathParam("id") String id) {
        return jobs.view(current.get(), id);
    }

    /**
     * Asks a running job to stop (live migrations, emptying a host): 202 with the job, which ends Cancelled once its
     * work has stopped (a migration's guest then runs on at its source). Asked of the job's own host's server.
     */
    @POST
    @Path("{id}/cancel")
    @Requires(Permission.JOB_READ)
    public Response cancel(@PathParam("id") String id) {
        return Accepted.job(jobs.cancel(current.get(), id));
    }

    private static JobEntity.State state(String value, List<FieldError> violations) {
        try {
            return JobEntity.State.valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            violations.add(new FieldError("state", "must be one of "
                    + Arrays.stream(JobEntity.State.values()).map(st -> st.name().toLowerCase(Locale.ROOT)).toList()
                    + "; got '" + value + "'"));
            return null;
        }
    }
}
