package io.hypervise.server.cluster;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.LocalHost;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

/**
 * This host's membership of the cluster: a lease on its row in {@code hosts}, renewed every few seconds, whose
 * expiry the database computes with its own clock, and an epoch that only grows (V24).
 *
 * <p>Joining bumps the epoch and keeps the new one as this host's; renewing succeeds only while the row still has
 * that epoch. When a renewal touches no row, someone changed the epoch (the host joined again, was removed, or was
 * declared gone): the membership is {@link MembershipState#LOST} for good until the server joins again, and every
 * {@link MembershipListener} is told. A renewal the database does not answer is retried at the next tick.
 *
 * <p>The statements are plain JDBC outside any JTA transaction and Hibernate session, on a thread of their own, on
 * a connection the membership keeps for itself (taken from the pool once, and again only after it broke): a
 * renewal is cheap and never waits for, nor holds up, a request, even when requests have every other connection.
 */
@ApplicationScoped
public class HostMembership {

    private static final Logger LOG = Logger.getLogger(HostMembership.class);

    private static final String JOIN = """
            UPDATE hosts SET epoch = epoch + 1, lease_expires_at = c.now + ? * interval '1 millisecond',
                             lease_renewed_at = c.now, last_seen_at = c.now, address = ?, left_at = NULL
              FROM (SELECT clock_timestamp() AS now) c
             WHERE id = ?
            RETURNING epoch, lease_expires_at, lease_renewed_at""";
    private static final String RENEW = """
            UPDATE hosts SET lease_expires_at = c.now + ? * interval '1 millisecond', lease_renewed_at = c.now,
                             last_seen_at = c.now
              FROM (SELECT clock_timestamp() AS now) c
             WHERE id = ? AND epoch = ?
            RETURNING lease_expires_at, lease_renewed_at""";
    private static final String WHY_LOST = "SELECT epoch, left_at FROM hosts WHERE id = ?";

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LocalHost localHost;

    @Inject
    ServerConfig config;

    @Inject
    @Any
    Instance<MembershipListener> beans;

    private final List<MembershipListener> listeners = new CopyOnWriteArrayList<>();
    private ScheduledExecutorService timer;

    private volatile Standing standing = Standing.NOT_JOINED;

    /** The renewals' own connection; null until the first renewal, and after one that broke it. */
    private Connection connection;

    /**
     * What this server knows of its own lease.
     *
     * @param epoch            the epoch this host joined with; 0 before it joined
     * @param expiresAt        the lease's expiry as the database last reported it
     * @param renewedAt        when the database last took a renewal (or the join)
     * @param renewFailures    renewals that failed in a row since the last that succeeded
     * @param lastFailure      why the last failed renewal failed; null if none failed since the last success
     * @param validUntilNanos  {@link System#nanoTime()} before which the lease surely holds: the start of the last
     *                         successful statement plus the ttl (the database's clock read after that start)
     */
    public record Standing(MembershipState state, long epoch, Instant expiresAt, Instant renewedAt, long renewFailures,
            String lastFailure, long validUntilNanos) {

        static final Standing NOT_JOINED = new Standing(MembershipState.NOT_JOINED, 0, null, null, 0, null, 0);
    }

    void onStart(@Observes @Priority(11) StartupEvent event) {
        Duration renew = config.cluster().lease().renew();
        Duration ttl = config.cluster().lease().ttl();
        if (renew.isNegative() || renew.isZero() || ttl.compareTo(renew.multipliedBy(2)) < 0) {
            throw new IllegalStateException("hypervise.cluster.lease.ttl (" + ttl + ") must be at least twice"
                    + " hypervise.cluster.lease.renew (" + renew + "), which must be positive: one late renewal must not"
                    + " lose the lease");
        }
        beans.forEach(listeners::add);
        join();
        timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("host-lease").factory());
        timer.scheduleWithFixedDelay(this::renewQuietly, renew.toMillis(), renew.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Stops renewing, and leaves the lease to run out by itself: the host's workers outlive the server, so a server
     * that stops must not say its host is gone before the lease says so.
     */
    void onStop(@Observes ShutdownEvent event) {
        if (timer != null) {
            timer.shutdownNow();
        }
        synchronized (this) {
            closeConnection();
        }
    }

    /** Also tells {@code listener} when this host loses its lease (beans implementing the interface are told anyway). */
    public void addListener(MembershipListener listener) {
        listeners.add(listener);
    }

    public void removeListener(MembershipListener listener) {
        listeners.remove(listener);
    }

    /** The host's id in the cluster. */
    public String hostId() {
        return localHost.id();
    }

    /** What this server knows of its lease now. */
    public Standing standing() {
        return standing;
    }

    /** The epoch this host joined with: the fencing token its decisions carry. */
    public long epoch() {
        return standing.epoch;
    }

    /** Where other servers reach this one. */
    public String address() {
        return config.cluster().address().orElseGet(() -> "http://127.0.0.1:"
                + ConfigProvider.getConfig().getOptionalValue("quarkus.http.port", Integer.class).orElse(8080));
    }

    /**
     * Joins the cluster: bumps this host's epoch, takes a fresh lease and clears a removal. Called at start; called
     * again (a restart, or after the lease was lost), it takes the lease from whatever held the old epoch.
     *
     * @return the new epoch
     */
    public synchronized long join() {
        long started = System.nanoTime();
        try (Connection c = dataSource.getConnection(); PreparedStatement join = c.prepareStatement(JOIN)) {
            join.setLong(1, ttlMillis());
            join.setString(2, address());
            join.setString(3, hostId());
            try (ResultSet rs = join.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("host '" + hostId() + "' has no row in the inventory to join with");
                }
                standing = new Standing(MembershipState.LIVE, rs.getLong(1), instant(rs, 2), instant(rs, 3), 0, null,
                        started + ttlMillis() * 1_000_000);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("host '" + hostId() + "' cannot join the cluster: " + e.getMessage(), e);
        }
        LOG.infof("host '%s' joined the cluster with epoch %d; its lease runs until %s (database clock)", hostId(),
                standing.epoch, standing.expiresAt);
        return standing.epoch;
    }

    /**
     * Renews the lease now, as the timer does: the state after. Once {@link MembershipState#LOST}, nothing is
     * renewed until the server joins again.
     */
    public synchronized MembershipState renew() {
        Standing was = standing;
        if (was.state == MembershipState.NOT_JOINED || was.state == MembershipState.LOST) {
            return was.state;
        }
        long started = System.nanoTime();
        Optional<String> lost;
        try {
            Connection c = connection();
            try (PreparedStatement renew = c.prepareStatement(RENEW)) {
                renew.setQueryTimeout(queryTimeoutSeconds());
                renew.setLong(1, ttlMillis());
                renew.setString(2, hostId());
                renew.setLong(3, was.epoch);
                try (ResultSet rs = renew.executeQuery()) {
                    if (rs.next()) {
                        standing = new Standing(MembershipState.LIVE, was.epoch, instant(rs, 1), instant(rs, 2), 0, null,
                                started + ttlMillis() * 1_000_000);
                        if (was.state == MembershipState.RENEW_FAILING) {
                            LOG.infof("host '%s' renewed its lease again after %d failed renewals", hostId(), was.renewFailures);
                        }
                        return MembershipState.LIVE;
                    }
                }
            }
            lost = Optional.of(whyLost(c, was.epoch));
        } catch (SQLException e) {
            if (!isCancelled(e)) {
                closeConnection();
            }
            standing = new Standing(MembershipState.RENEW_FAILING, was.epoch, was.expiresAt, was.renewedAt,
                    was.renewFailures + 1, e.getMessage(), was.validUntilNanos);
            LOG.warnf("host '%s' could not renew its lease (epoch %d, failure %d in a row; it runs until %s unless"
                    + " renewed): %s", hostId(), was.epoch, was.renewFailures + 1, was.expiresAt, e.getMessage());
            return MembershipState.RENEW_FAILING;
        }
        standing = new Standing(MembershipState.LOST, was.epoch, was.expiresAt, was.renewedAt, was.renewFailures,
                lost.get(), was.validUntilNanos);
        LOG.errorf("HOST '%s' LOST ITS LEASE: %s. Other hosts may take its VMs over; it must not act on them.",
                hostId(), lost.get());
        for (MembershipListener listener : listeners) {
            try {
                listener.leaseLost(was.epoch, lost.get());
            } catch (RuntimeException e) {
                LOG.errorf(e, "a membership listener failed on the lost lease of host '%s'", hostId());
            }
        }
        return MembershipState.LOST;
    }

    private String whyLost(Connection c, long epoch) throws SQLException {
        try (PreparedStatement why = c.prepareStatement(WHY_LOST)) {
            why.setString(1, hostId());
            try (ResultSet rs = why.executeQuery()) {
                if (!rs.next()) {
                    return "its row is gone from the inventory (it held epoch " + epoch + ")";
                }
                long now = rs.getLong(1);
                Instant left = instant(rs, 2);
                return "its epoch is " + now + ", no longer " + epoch
                        + (left != null ? ": an administrator removed it from the cluster at " + left
                                : ": it joined again, or was declared gone");
            }
        }
    }

    /**
     * The query timeout alone does not bound a renewal cut off from the database: it cancels over a new connection,
     * which cannot get through either, and the statement then waits on its socket for as long as TCP retries (many
     * minutes), saying nothing. The network timeout gives up on the socket itself (the pool resets it on return).
     */
    private Connection connection() throws SQLException {
        if (connection == null) {
            connection = dataSource.getConnection();
            connection.setNetworkTimeout(Runnable::run, (int) config.cluster().lease().renew().toMillis() * 2);
        }
        return connection;
    }

    /** Gives the connection back to the pool (which drops it if it broke); the next renewal takes another. */
    private void closeConnection() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException e) {
                LOG.debugf("closing the lease's connection: %s", e.getMessage());
            }
            connection = null;
        }
    }

    /** A statement the query timeout cancelled (SQLSTATE 57014) leaves its connection usable. */
    private static boolean isCancelled(SQLException e) {
        return "57014".equals(e.getSQLState());
    }

    private void renewQuietly() {
        try {
            renew();
        } catch (RuntimeException e) {
            LOG.errorf(e, "renewing the lease of host '%s' failed unexpectedly", hostId());
        }
    }

    private long ttlMillis() {
        return config.cluster().lease().ttl().toMillis();
    }

    /** A renewal that takes longer than a renewal period is given up, to be tried again at the next tick. */
    private int queryTimeoutSeconds() {
        return (int) Math.max(1, config.cluster().lease().renew().toSeconds());
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime at = rs.getObject(column, OffsetDateTime.class);
        return at == null ? null : at.toInstant();
    }
}
