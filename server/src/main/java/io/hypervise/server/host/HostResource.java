package io.hypervise.server.host;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.cluster.Cluster;
import io.hypervise.server.counters.CounterQueries;
import io.hypervise.server.counters.CounterSeriesView;
import io.hypervise.server.inventory.PageOf;
import io.hypervise.server.jobs.Accepted;
import io.hypervise.server.vm.HostEvacuations;
import jakarta.inject.Inject;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;

/** The cluster's hosts: any server answers for all of them; this server's own host's capabilities and devices. */
@Path("/api/v1")
@Produces(MediaType.APPLICATION_JSON)
public class HostResource {

    @Inject
    Hosts hosts;

    @Inject
    CounterQueries counters;

    @Inject
    Cluster cluster;

    @Inject
    CurrentCaller current;

    @Inject
    HostMaintenance maintenance;

    @Inject
    HostEvacuations evacuations;

    /** One page of hosts, in the shape every list of the API has. */
    public record Page(List<HostDetail> items, int page, int size, long total) {
    }

    /** What this host can run: accelerator and why, CPUs, memory, QEMU. */
    @GET
    @Path("host")
    @Requires(Permission.HOST_READ)
    public HostView capabilities() {
        return hosts.capabilities();
    }

    /**
     * This host's whole block devices, each usable for a pass-through disk or not, and why not: the engine's reason
     * (the host uses it: root, storage, mounted, swap, device-mapper), or the VM that has it. Administrators only.
     */
    @GET
    @Path("host/block-devices")
    @Requires(Permission.HOST_DEVICES)
    public PageOf<BlockDeviceView> blockDevices() {
        List<BlockDeviceView> all = hosts.blockDevices();
        return new PageOf<>(all, 0, all.size(), all.size());
    }

    @GET
    @Path("hosts")
    @Requires(Permission.HOST_READ)
    public Page hosts() {
        List<HostDetail> all = hosts.list();
        return new Page(all, 0, all.size(), all.size());
    }

    @GET
    @Path("hosts/{id}")
    @Requires(Permission.HOST_READ)
    public HostDetail host(@PathParam("id") String id) {
        return hosts.member(id);
    }

    /**
     * Removes a host from the cluster (administrators): refused while its lease is live or it owns VMs. The row
     * stays, marked as left; audited.
     */
    @DELETE
    @Path("hosts/{id}")
    @Requires(Permission.HOST_MANAGE)
    public Response remove(@PathParam("id") String id) {
        cluster.remove(id, current.get());
        return Response.noContent().build();
    }

    /**
     * Puts the host into maintenance mode (administrators): it runs what it runs, and takes no new VM. Audited;
     * answers with the host.
     */
    @PUT
    @Path("hosts/{id}/maintenance")
    @Requires(Permission.HOST_MANAGE)
    public HostDetail enterMaintenance(@PathParam("id") String id) {
        maintenance.set(id, true, current.get());
        return hosts.member(id);
    }

    /**
     * Empties the host for maintenance (administrators): maintenance mode at once, then a job on the host's own server
     * that moves each of its running VMs live to the host placement rates best: 202 with the job to follow.
     */
    @POST
    @Path("hosts/{id}/evacuate")
    @Requires(Permission.HOST_MANAGE)
    public Response evacuate(@PathParam("id") String id) {
        return Accepted.job(evacuations.evacuate(current.get(), id));
    }

    /** Takes the host out of maintenance mode (administrators): it takes new VMs again. Audited; answers with the host. */
    @DELETE
    @Path("hosts/{id}/maintenance")
    @Requires(Permission.HOST_MANAGE)
    public HostDetail leaveMaintenance(@PathParam("id") String id) {
        maintenance.set(id, false, current.get());
        return hosts.member(id);
    }

    /** The host's utilization counters over [from, to) in steps of {@code step} (see the VM's). */
    @GET
    @Path("hosts/{id}/metrics")
    @Requires(Permission.HOST_READ)
    public CounterSeriesView metrics(@PathParam("id") String id, @QueryParam("from") String from,
            @QueryParam("to") String to, @QueryParam("step") String step) {
        return hosts.metrics(id, counters.range(from, to, step));
    }
}
