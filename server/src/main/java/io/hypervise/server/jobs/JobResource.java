package io.hypervise.server.jobs;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.QueryParameters;
import io.quarkus.panache.common.Sort;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/** Following long operations: their state, progress and outcome. Self-service users see their own. */
@Path("/api/v1/jobs")
@Produces(MediaType.APPLICATION_JSON)
public class JobResource {

    @Inject
    CurrentCaller current;

    /** One page of jobs, newest first, and how many there are in all. */
    public record Page(List<JobView> items, int page, int size, long total) {
    }

    /** Jobs newest first, optionally of one VM and in one state (queued, running, succeeded, failed, cancelled). */
    @GET
    @Requires(Permission.JOB_READ)
    @Transactional
    public Page list(@QueryParam("vm") String vm, @QueryParam("state") String state, @QueryParam("page") String page,
            @QueryParam("size") String size) {
        List<FieldError> violations = new ArrayList<>();
        int p = QueryParameters.page(page, violations);
        int s = QueryParameters.size(size, violations);
        JobEntity.State wanted = state == null ? null : state(state, violations);
        QueryParameters.text("vm", vm, 40, violations);
        QueryParameters.check(violations);

        StringBuilder query = new StringBuilder("1 = 1");
        Map<String, Object> params = new HashMap<>();
        Caller caller = current.get();
        if (caller.reach(Permission.JOB_READ) == Reach.OWN) {
            query.append(" and actor = :me");
            params.put("me", caller.username());
        }
        if (vm != null) {
            query.append(" and vmId = :vm");
            params.put("vm", vm);
        }
        if (wanted != null) {
            query.append(" and state = :state");
            params.put("state", wanted);
        }
        var found = JobEntity.<JobEntity>find(query.toString(), Sort.descending("createdAt").and("id"), params);
        long total = found.count();
        List<JobView> items = found.page(io.quarkus.panache.common.Page.of(p, s)).list().stream().map(JobView::of).toList();
        return new Page(items, p, s, total);
    }

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

    private static UUID parse(String id) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
