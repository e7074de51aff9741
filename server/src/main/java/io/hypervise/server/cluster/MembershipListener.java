package io.hypervise.server.cluster;

/**
 * Told when this host loses its membership: its lease can no longer be renewed because its epoch changed
 * (it joined again elsewhere with the same id, an administrator removed it, or a manager declared it gone), so
 * other hosts may already be taking its VMs over. Whoever implements this stops this host's workers (issue 20,
 * self-fencing). Called on the membership's own thread; implementations must not block it for long.
 */
@FunctionalInterface
public interface MembershipListener {

    /**
     * @param epoch  the epoch this host held, which is no longer the host's
     * @param reason what was found, for the log and the operator
     */
    void leaseLost(long epoch, String reason);
}
