package io.hypervise.server.cluster;

import java.time.Instant;

/** A host's standing in the cluster, by the database's clock. */
public enum LeaseState {
    /** Its server renewed its lease, which has not run out yet. */
    LIVE,
    /** Its lease ran out (or it never held one): its server stopped renewing, or cannot reach the database. */
    EXPIRED,
    /** An administrator removed it from the cluster. */
    LEFT;

    /**
     * The state of a host's lease at {@code now}, the database's clock: left once removed, live while the lease
     * runs (its expiry strictly after now, as the statements that check it say), expired otherwise.
     */
    public static LeaseState of(Instant expiresAt, Instant leftAt, Instant now) {
        if (leftAt != null) {
            return LEFT;
        }
        return expiresAt != null && expiresAt.isAfter(now) ? LIVE : EXPIRED;
    }
}
