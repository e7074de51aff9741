package io.hypervise.server.placement;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.inventory.PageOf;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;

/** Placement: the hosts as it sees them, its settings, and rating every host for a VM (what-if). */
@Path("/api/v1/placement")
@Produces(MediaType.APPLICATION_JSON)
public class PlacementResource {

    @Inject
    Placements placements;

    @Inject
    CurrentCaller current;

    /** Every member host's capacity, what is committed to its VMs, its recent load and when its facts were published. */
    @GET
    @Path("hosts")
    @Requires(Permission.HOST_READ)
    public PageOf<HostCapacity> hosts() {
        List<HostCapacity> all = placements.hosts();
        return new PageOf<>(all, 0, all.size(), all.size());
    }

    @GET
    @Path("settings")
    @Requires(Permission.HOST_READ)
    public PlacementSettings settings() {
        return placements.settings();
    }

    /** Sets the goal and weights (administrators); audited. */
    @PUT
    @Path("settings")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.HOST_MANAGE)
    public PlacementSettings change(PlacementSettings.Change change) {
        return placements.change(current.get(), change);
    }

    /** Every host rated for a VM described by its size, disk, switches and host group, each with its reasons. */
    @POST
    @Path("ratings")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.PLACEMENT_RATE)
    public Ratings rate(WhatIf vm) {
        return placements.rate(vm);
    }

    /** Every host rated for an existing VM: where it could go (its own host is refused: it is already there). */
    @GET
    @Path("ratings/vms/{id}")
    @Requires(Permission.PLACEMENT_RATE)
    public Ratings rateVm(@PathParam("id") String id) {
        return placements.rate(current.get(), id);
    }
}
