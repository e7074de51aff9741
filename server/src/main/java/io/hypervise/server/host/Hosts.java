package io.hypervise.server.host;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.cluster.Cluster;
import io.hypervise.server.cluster.ClusterMember;
import io.hypervise.server.cluster.HostMembership;
import io.hypervise.server.counters.CounterQueries;
import io.hypervise.server.counters.CounterRange;
import io.hypervise.server.counters.CounterSeriesView;
import io.hypervise.engine.storage.HostBlockDevices;
import io.hypervise.server.inventory.HostDeviceClaims;
import io.hypervise.server.inventory.HostEntity;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmRepository;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import io.hypervise.server.api.NotFoundRefusal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The hosts as the API and the pages show them: every host of the cluster from the database, and this server's own
 * host's capabilities, load and engine too.
 */
@ApplicationScoped
public class Hosts {

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    CounterQueries counters;

    @Inject
    HostDeviceClaims claims;

    @Inject
    VmRepository vms;

    @Inject
    Cluster cluster;

    @Inject
    HostMembership membership;

    /** What this host can run: accelerator and why, CPUs, memory, QEMU. */
    public HostView capabilities() {
        return HostView.of(engine.host(), engine.vms());
    }

    /** Every host of the cluster, members and those that left, by group and name. */
    public List<HostDetail> list() {
        return cluster.members().stream().map(this::detail).toList();
    }

    /** Any host of the cluster, by id (this server answers for all of them from the database); 404 for none. */
    public HostDetail member(String id) {
        return detail(cluster.member(id).orElseThrow(() -> new NotFoundRefusal("no host with id '" + id + "'")));
    }

    /** This server's host, by id; any other id is a 404, as a server answers for its own host only. */
    @Transactional
    public HostEntity known(String id) {
        HostEntity host = id.equals(localHost.id()) ? HostEntity.findById(id) : null;
        if (host == null) {
            throw new NotFoundRefusal("no host with id '" + id + "'");
        }
        return host;
    }

    /** The host's utilization counters over the range. */
    public CounterSeriesView metrics(String id, CounterRange range) {
        known(id);
        return counters.host(id, range);
    }

    /** What the API shows of a host: its record, capabilities, load and VM counts. */
    public HostDetail detail(HostEntity host) {
        return member(host.id);
    }

    private HostDetail detail(ClusterMember m) {
        boolean local = m.id().equals(localHost.id());
        List<VmStatus> vms = local ? engine.vms().list() : List.of();
        long running = vms.stream().filter(v -> v.state() == VmState.RUNNING).count();
        return new HostDetail(m.id(), m.name(), local ? HostView.of(engine.host(), engine.vms()) : null,
                local ? engine.load() : null, vms.size(), running, m.lastSeenAt(), HostDetail.leaseOf(m), m.address(),
                m.maintenance(), m.vmCount(), local ? HostDetail.Membership.of(membership.standing()) : null);
    }

    /**
     * This host's whole block devices, each with whether a VM may be given it now: the engine's account of what the
     * host uses itself (see {@link HostBlockDevices}), and the claims of this host's VMs.
     */
    @Transactional
    public List<BlockDeviceView> blockDevices() {
        List<HostBlockDevices.Device> listed;
        try {
            listed = new HostBlockDevices(engine.storage().path()).list();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the host's block devices: " + e.getMessage(), e);
        }
        Map<String, String> given = claims.all(localHost.id());
        Map<String, String> names = vms.namesOf(List.copyOf(new java.util.HashSet<>(given.values())));
        List<BlockDeviceView> devices = new ArrayList<>();
        for (HostBlockDevices.Device d : listed) {
            String vm = given.get(d.path().toString());
            BlockDeviceView.Holder holder = vm == null ? null : new BlockDeviceView.Holder(vm, names.getOrDefault(vm, vm));
            String reason = d.problem() != null ? d.problem()
                    : holder != null ? "is given to VM '" + holder.name() + "' (" + vm + "); a device is given to one VM at a time"
                    : null;
            devices.add(new BlockDeviceView(d.path().toString(), d.sizeBytes(), d.model(), d.serial(), d.backingFile(),
                    reason == null, reason, holder));
        }
        return devices;
    }
}
