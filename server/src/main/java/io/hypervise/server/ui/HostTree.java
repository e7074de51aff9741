package io.hypervise.server.ui;

import io.hypervise.server.cluster.Cluster;
import io.hypervise.server.cluster.ClusterMember;
import io.hypervise.server.cluster.LeaseState;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.placement.HostCapacity;
import io.hypervise.server.placement.Placements;
import io.quarkus.arc.Arc;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The left pane of the admin console: host groups, their hosts, their leases and maintenance, what placement sees
 * of each (capacity, what is committed to VMs, recent load), and how many VMs each runs.
 */
public record HostTree(List<Group> groups, String selectedHost) {

    public record Group(String name, List<Node> hosts) {
    }

    /**
     * A host in the tree.
     *
     * @param lease      live, expired or left
     * @param leaseSince for an expired lease, when it expired (null if the host never joined); for a left host, when
     *                   it left; null while live
     * @param local      whether it is this server's host, the one whose page this server shows
     * @param maintenance in maintenance mode: it takes no new VMs
     * @param capacity   what placement sees of it; null for a host that left
     */
    public record Node(String id, String name, String accelerator, long vms, long running, boolean selected, String lease,
            Instant leaseSince, boolean local, boolean maintenance, HostCapacity capacity) {
    }

    /** Reads the hosts, their leases and VM counts in one query, and placement's view of them in another. */
    static HostTree load(String selectedHost) {
        String local = Arc.container().instance(LocalHost.class).get().id();
        Map<String, HostCapacity> capacities = new HashMap<>();
        Arc.container().instance(Placements.class).get().hosts().forEach(c -> capacities.put(c.id(), c));
        Map<String, List<Node>> groups = new TreeMap<>();
        for (ClusterMember h : Arc.container().instance(Cluster.class).get().members()) {
            LeaseState state = h.lease().state();
            Instant since = switch (state) {
                case LIVE -> null;
                case EXPIRED -> h.lease().expiresAt();
                case LEFT -> h.lease().leftAt();
            };
            groups.computeIfAbsent(h.hostGroup(), g -> new ArrayList<>()).add(new Node(h.id(), h.name(),
                    h.accelerator() == null ? "" : h.accelerator(), h.vmCount(), h.runningVms(), h.id().equals(selectedHost),
                    state.name().toLowerCase(Locale.ROOT), since, h.id().equals(local), h.maintenance(),
                    capacities.get(h.id())));
        }
        return new HostTree(groups.entrySet().stream().map(e -> new Group(e.getKey(), e.getValue())).toList(), selectedHost);
    }
}
