package io.hypervise.server.cluster;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.access.Caller;
import io.hypervise.server.api.NotFoundRefusal;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The cluster's hosts as any server sees them in the database: who is alive by the database's clock, their
 * epochs, capacity and VM counts (one grouped query for all hosts), and removing a host that is gone.
 */
@ApplicationScoped
public class Cluster {

    private static final Logger LOG = Logger.getLogger(Cluster.class);

    private static final String MEMBERS = """
            SELECT h.id, h.name, h.host_group, h.accelerator, h.cpus, h.memory_bytes, h.address, h.maintenance,
                   h.lease_expires_at, h.lease_renewed_at, h.epoch, h.left_at, clock_timestamp(),
                   coalesce(c.vms, 0), coalesce(c.running, 0), h.last_seen_at
              FROM hosts h
              LEFT JOIN (SELECT host_id, count(*) AS vms, count(*) FILTER (WHERE state = 'RUNNING') AS running
                           FROM vms GROUP BY host_id) c ON c.host_id = h.id
            """;
    private static final String ORDER = " ORDER BY h.host_group, h.name, h.id";

    @Inject
    AgroalDataSource dataSource;

    @Inject
    AuditLog audit;

    /** Every host of the cluster, members and those that left, by group and name. */
    public List<ClusterMember> members() {
        return query(MEMBERS + ORDER, null);
    }

    /** One host of the cluster, or none. */
    public Optional<ClusterMember> member(String id) {
        return query(MEMBERS + " WHERE h.id = ?", id).stream().findFirst();
    }

    /** The members by id, in the order of {@link #members()}. */
    public Map<String, ClusterMember> byId() {
        Map<String, ClusterMember> all = new LinkedHashMap<>();
        members().forEach(m -> all.put(m.id(), m));
        return all;
    }

    private List<ClusterMember> query(String sql, String id) {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            if (id != null) {
                s.setString(1, id);
            }
            List<ClusterMember> members = new ArrayList<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    Instant expires = instant(rs, 9);
                    Instant left = instant(rs, 12);
                    HostLease lease = new HostLease(LeaseState.of(expires, left, instant(rs, 13)), expires, instant(rs, 10),
                            rs.getLong(11), left);
                    members.add(new ClusterMember(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getInt(5), rs.getLong(6), rs.getString(7), rs.getBoolean(8), lease, rs.getLong(14),
                            rs.getLong(15), instant(rs, 16)));
                }
            }
            return members;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the cluster's hosts: " + e.getMessage(), e);
        }
    }

    /**
     * Removes a host from the cluster: refused while its lease is live (its server runs: stop it first) or while it
     * owns VMs (move or delete them first). The row stays, marked as left, as jobs, the library and the audit log
     * refer to it; its epoch grows, so a server still holding the old lease can never renew it. A host whose server
     * starts again joins again. Audited, refusals too.
     */
    @Transactional(dontRollbackOn = HostRemovalRefusedException.class)
    public void remove(String id, Caller caller) {
        String target = "host:" + id;
        try (Connection c = dataSource.getConnection()) {
            Standing host = lockForRemoval(c, id);
            String refusal = host.refusal(id);
            if (refusal != null) {
                audit.record(caller, "host.remove", target, Map.of("epoch", host.epoch), AuditOutcome.FAILED, refusal);
                throw new HostRemovalRefusedException(refusal);
            }
            long epoch;
            Instant left;
            try (PreparedStatement leave = c.prepareStatement("""
                    UPDATE hosts SET left_at = clock_timestamp(), epoch = epoch + 1, updated_at = clock_timestamp()
                     WHERE id = ? RETURNING epoch, left_at""")) {
                leave.setString(1, id);
                try (ResultSet rs = leave.executeQuery()) {
                    rs.next();
                    epoch = rs.getLong(1);
                    left = instant(rs, 2);
                }
            }
            Map<String, Object> parameters = new LinkedHashMap<>();
            parameters.put("epoch", epoch);
            parameters.put("leaseExpiredAt", host.expiresAt == null ? null : host.expiresAt.toString());
            audit.record(caller, "host.remove", target, parameters, AuditOutcome.SUCCEEDED, null);
            LOG.infof("host '%s' removed from the cluster by %s at %s (epoch now %d)", id, caller.username(), left, epoch);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot remove host '" + id + "': " + e.getMessage(), e);
        }
    }

    /**
     * Declares a host whose lease has expired gone: bumps its epoch, if it is still {@code expectedEpoch}, so the
     * server that held the lease can never renew it (it finds itself lost when it reaches the database again), and
     * whatever is decided about the host from now on names the new epoch. Whoever takes a gone host's VMs over
     * declares it gone first, then transfers them with the new epoch as the source's ({@link VmOwnership}). One
     * statement; the caller records it.
     *
     * @return the host's new epoch
     * @throws FencingRefusedException when the lease is live, the host left or its epoch is not {@code expectedEpoch}
     */
    public long declareGone(String id, long expectedEpoch) {
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement gone = c.prepareStatement("""
                    UPDATE hosts SET epoch = epoch + 1, updated_at = clock_timestamp()
                     WHERE id = ? AND epoch = ? AND left_at IS NULL
                       AND (lease_expires_at IS NULL OR lease_expires_at <= clock_timestamp())
                    RETURNING epoch""")) {
                gone.setString(1, id);
                gone.setLong(2, expectedEpoch);
                try (ResultSet rs = gone.executeQuery()) {
                    if (rs.next()) {
                        long epoch = rs.getLong(1);
                        LOG.warnf("host '%s' declared gone: its lease had expired; epoch %d is now %d", id, expectedEpoch, epoch);
                        return epoch;
                    }
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot declare host '" + id + "' gone: " + e.getMessage(), e);
        }
        ClusterMember host = member(id).orElseThrow(() -> new NotFoundRefusal("no host with id '" + id + "'"));
        HostLease lease = host.lease();
        throw new FencingRefusedException(switch (lease.state()) {
            case LEFT -> "host '" + id + "' left the cluster at " + lease.leftAt();
            case LIVE -> "host '" + id + "' holds a live lease (until " + lease.expiresAt() + ", epoch " + lease.epoch()
                    + "): it is not gone";
            case EXPIRED -> "host '" + id + "' is at epoch " + lease.epoch() + ", not " + expectedEpoch
                    + ": it joined again, or was declared gone already";
        });
    }

    /** What removal looks at, read with the host's row locked: a concurrent join waits for the removal, or it for the join. */
    private record Standing(long epoch, Instant expiresAt, Instant leftAt, boolean live, long vms, List<String> someVms) {

        String refusal(String id) {
            if (leftAt != null) {
                return "host '" + id + "' left the cluster at " + leftAt;
            }
            if (live) {
                return "host '" + id + "' holds a live lease (until " + expiresAt + ", epoch " + epoch + "): its server"
                        + " is running; stop it and wait for the lease to expire before removing the host";
            }
            if (vms > 0) {
                return "host '" + id + "' still owns " + vms + (vms == 1 ? " VM (" : " VMs (") + String.join(", ", someVms)
                        + (vms > someVms.size() ? ", …" : "") + "); move them to another host or delete them first";
            }
            return null;
        }
    }

    private static Standing lockForRemoval(Connection c, String id) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("""
                SELECT epoch, lease_expires_at, left_at, coalesce(lease_expires_at > clock_timestamp(), false),
                       (SELECT count(*) FROM vms WHERE host_id = h.id),
                       (SELECT array_agg(id) FROM (SELECT id FROM vms WHERE host_id = h.id ORDER BY id LIMIT 5) v)
                  FROM hosts h WHERE id = ? FOR UPDATE""")) {
            s.setString(1, id);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    throw new NotFoundRefusal("no host with id '" + id + "'");
                }
                java.sql.Array some = rs.getArray(6);
                List<String> someVms = some == null ? List.of() : List.of((String[]) some.getArray());
                return new Standing(rs.getLong(1), instant(rs, 2), instant(rs, 3), rs.getBoolean(4), rs.getLong(5), someVms);
            }
        }
    }

    static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime at = rs.getObject(column, OffsetDateTime.class);
        return at == null ? null : at.toInstant();
    }
}
