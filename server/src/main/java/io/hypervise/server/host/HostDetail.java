package io.hypervise.server.host;

import io.hypervise.engine.host.HostLoad;
import io.hypervise.server.cluster.ClusterMember;
import io.hypervise.server.cluster.HostLease;
import io.hypervise.server.cluster.HostMembership;
import java.time.Instant;
import java.util.Locale;

/**
 * A host of the cluster: what it can run and how busy it is now (this server's own host only: null for others),
 * how many VMs its engine holds and runs, its lease and epoch by the database's clock, where its server is reached,
 * whether it is in maintenance, and how many VMs it owns in the inventory.
 *
 * @param vms        the VMs this host's engine holds (0 for another host: its own server knows)
 * @param vmCount    the VMs the inventory says the host owns
 * @param membership this server's own account of renewing its lease; null for other hosts
 */
public record HostDetail(String id, String name, HostView capabilities, HostLoad load, long vms, long runningVms,
        Instant lastSeenAt, Lease lease, String address, boolean maintenance, long vmCount, Membership membership) {

    /**
     * The host's lease.
     *
     * @param state     live, expired or left
     * @param expiresAt when it runs out; for an expired lease, since when it is expired (null: never joined)
     * @param renewedAt when its server last renewed it
     * @param epoch     the fencing token: grows each time the host joins, leaves or is declared gone
     * @param leftAt    when the host was removed from the cluster; null while it is a member
     */
    public record Lease(String state, Instant expiresAt, Instant renewedAt, long epoch, Instant leftAt) {

        static Lease of(HostLease l) {
            return new Lease(l.state().name().toLowerCase(Locale.ROOT), l.expiresAt(), l.renewedAt(), l.epoch(), l.leftAt());
        }
    }

    /**
     * How this server is doing at renewing its host's lease.
     *
     * @param state            not-joined, live, renew-failing or lost
     * @param renewFailures    renewals that failed in a row since the last that succeeded
     * @param lastRenewFailure why the last failed; null when the last renewal succeeded
     */
    public record Membership(String state, long epoch, long renewFailures, String lastRenewFailure) {

        static Membership of(HostMembership.Standing s) {
            return new Membership(s.state().name().toLowerCase(Locale.ROOT).replace('_', '-'), s.epoch(), s.renewFailures(),
                    s.lastFailure());
        }
    }

    static Lease leaseOf(ClusterMember m) {
        return Lease.of(m.lease());
    }
}
