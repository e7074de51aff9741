package io.hypervise.server.template;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.jobs.Accepted;
import io.hypervise.server.jobs.JobView;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.core.Response;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;

/** The templates VMs can be created from. */
@Path("/api/v1/templates")
@Produces(MediaType.APPLICATION_JSON)
@Requires(Permission.TEMPLATE_READ)
public class TemplateResource {

    @Inject
    Templates templates;

    @Inject
    CurrentCaller current;

    /** Every template, by name. (Few: no paging.) */
    public record Page(List<TemplateView> items, int page, int size, long total) {
    }

    @GET
    public Page list() {
        List<TemplateView> items = templates.list();
        return new Page(items, 0, items.size(), items.size());
    }

    @GET
    @Path("{id}")
    public TemplateView get(@PathParam("id") String id) {
        return templates.view(id);
    }

    /** Builds a built-in template's files on this host (debian-12: about 4 minutes), as a job. */
    @POST
    @Path("{id}/build")
    @Requires(Permission.TEMPLATE_MANAGE)
    public Response build(@PathParam("id") String id) {
        JobView job = templates.build(current.get(), id);
        return Accepted.job(job);
    }
}
