package io.hypervise.server.cluster;

/**
 * A host of the cluster as any server sees it from the database: its lease and epoch, where its server is
 * reached, whether it is in maintenance, its capacity and how many VMs it owns.
 */
public record ClusterMember(String id, String name, String hostGroup, String accelerator, int cpus, long memoryBytes,
        String address, boolean maintenance, HostLease lease, long vmCount, long runningVms, java.time.Instant lastSeenAt) {
}
