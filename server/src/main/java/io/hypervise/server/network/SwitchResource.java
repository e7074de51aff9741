package io.hypervise.server.network;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.util.List;

/** The host's virtual switches: whoever reads hosts sees them; administrators make and remove them. */
@Path("/api/v1/switches")
@Produces(MediaType.APPLICATION_JSON)
public class SwitchResource {

    @Inject
    Switches switches;

    @Inject
    CurrentCaller current;

    /**
     * Every switch of this host (few: no paging), and why the host cannot run switches, if it cannot.
     */
    public record Page(List<SwitchView> items, int page, int size, long total, String unavailable) {
    }

    @GET
    @Requires(Permission.HOST_READ)
    public Page list() {
        Switches.Listing listing = switches.list();
        return new Page(listing.items(), 0, listing.items().size(), listing.items().size(), listing.unavailable());
    }

    @GET
    @Path("{id}")
    @Requires(Permission.HOST_READ)
    public SwitchView get(@PathParam("id") String id) {
        return switches.view(id);
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.SWITCH_MANAGE)
    public Response create(SwitchRequest request) {
        SwitchEntity s = switches.create(request, current.get());
        return Response.created(URI.create("/api/v1/switches/" + s.id)).entity(switches.view(s.id)).build();
    }

    @DELETE
    @Path("{id}")
    @Requires(Permission.SWITCH_MANAGE)
    public Response delete(@PathParam("id") String id) {
        switches.delete(id, current.get());
        return Response.noContent().build();
    }
}
