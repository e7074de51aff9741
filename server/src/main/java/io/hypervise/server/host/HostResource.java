package io.hypervise.server.host;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.counters.CounterQueries;
import io.hypervise.server.counters.CounterRange;
import io.hypervise.server.counters.CounterSeriesView;
import io.hypervise.server.inventory.HostEntity;
import io.hypervise.server.inventory.LocalHost;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;

/** The hosts: this server's own, for now. */
@Path("/api/v1")
@Produces(MediaType.APPLICATION_JSON)
public class HostResource {

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    CounterQueries counters;

    /** One page of hosts, in the shape every list of the API has. */
    public record Page(List<HostDetail> items, int page, int size, long total) {
    }

    /** What this host can run: accelerator and why, CPUs, memory, QEMU. */
    @GET
    @Path("host")
    @Requires(Permission.HOST_READ)
    public HostView capabilities() {
        return HostView.of(engine.host());
    }

    @GET
    @Path("hosts")
    @Requires(Permission.HOST_READ)
    @Transactional
    public Page hosts() {
        List<HostDetail> hosts = HostEntity.<HostEntity>listAll().stream().map(this::detail).toList();
        return new Page(hosts, 0, hosts.size(), hosts.size());
    }

    @GET
    @Path("hosts/{id}")
    @Requires(Permission.HOST_READ)
    @Transactional
    public HostDetail host(@PathParam("id") String id) {
        return detail(known(id));
    }

    /** This server's host, by id; any other id is a 404, as a server answers for its own host only. */
    @Transactional
    public HostEntity known(String id) {
        HostEntity host = id.equals(localHost.id()) ? HostEntity.findById(id) : null;
        if (host == null) {
            throw new NotFoundException("no host with id '" + id + "'");
        }
        return host;
    }

    /** The host's utilization counters over [from, to) in steps of {@code step} (see the VM's). */
    @GET
    @Path("hosts/{id}/metrics")
    @Requires(Permission.HOST_READ)
    public CounterSeriesView metrics(@PathParam("id") String id, @QueryParam("from") String from,
            @QueryParam("to") String to, @QueryParam("step") String step) {
        CounterRange range = counters.range(from, to, step);
        QuarkusTransaction.requiringNew().run(() -> known(id));
        return counters.host(id, range);
    }

    /** What the API shows of a host: its record, capabilities, load and VM counts. */
    public HostDetail detail(HostEntity host) {
        boolean local = host.id.equals(localHost.id());
        List<VmStatus> vms = local ? engine.vms().list() : List.of();
        long running = vms.stream().filter(v -> v.state() == VmState.RUNNING).count();
        return new HostDetail(host.id, host.name, local ? HostView.of(engine.host()) : null,
                local ? engine.load() : null, vms.size(), running, host.lastSeenAt);
    }
}
