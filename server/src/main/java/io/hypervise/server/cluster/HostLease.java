package io.hypervise.server.cluster;

import java.time.Instant;

/**
 * A host's lease as the cluster sees it, read with the database's clock.
 *
 * @param state     live, expired or left
 * @param expiresAt when it runs out (or ran out: an expired lease has been expired since then); null if the host
 *                  never joined
 * @param renewedAt when its server last renewed it; null if never
 * @param epoch     the fencing token: grows each time the host joins, is removed or declared gone
 * @param leftAt    when the host was removed from the cluster; null while it is a member
 */
public record HostLease(LeaseState state, Instant expiresAt, Instant renewedAt, long epoch, Instant leftAt) {
}
