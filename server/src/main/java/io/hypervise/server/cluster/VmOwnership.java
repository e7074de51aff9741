package io.hypervise.server.cluster;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.cluster.OwnershipRefusedException.Reason;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * The fencing-token primitive: which host owns a VM changes only in one transaction that checks, with the rows
 * locked, everything the change was decided on. The VM's row is locked first ({@code FOR UPDATE}), so of two
 * transfers of one VM the second waits, then finds the VM no longer on the host it expected and is refused; the
 * hosts' rows are locked {@code FOR SHARE}, so neither can join again (bumping its epoch) or be removed until the
 * transfer commits. It changes the inventory only: moving the worker is the caller's (migration, recovery).
 */
@ApplicationScoped
public class VmOwnership {

    private static final String LOCK_VM = "SELECT host_id FROM vms WHERE id = ? FOR UPDATE";
    private static final String LOCK_HOSTS = """
            SELECT id, epoch, left_at, lease_expires_at, coalesce(lease_expires_at > clock_timestamp(), false)
              FROM hosts WHERE id IN (?, ?) ORDER BY id FOR SHARE""";
    private static final String MOVE = """
            UPDATE vms SET host_id = ?, version = version + 1, updated_at = clock_timestamp() WHERE id = ?
            RETURNING updated_at""";

    @Inject
    AgroalDataSource dataSource;

    /** A transfer that happened: the VM's owner is now {@code to}, at the database's time {@code at}. */
    public record Transfer(String vmId, String from, String to, long toEpoch, Instant at) {
    }

    /**
     * Makes {@code toHost} the owner of the VM, if and only if, in this transaction: the VM is on {@code expectedFrom};
     * {@code toHost} is a member whose lease is live by the database's clock and whose epoch is {@code toEpoch};
     * and, when {@code fromEpoch} is given, {@code expectedFrom}'s epoch is still that. Otherwise nothing changes and
     * the refusal names what did not hold. Joins the caller's transaction, if any, so a caller can record the
     * transfer with it.
     *
     * @param fromEpoch the source's epoch the decision was taken on; null when the source's epoch does not matter
     *                  (a planned move from a live host that checks its own epoch elsewhere)
     * @throws OwnershipRefusedException when anything above does not hold
     */
    @Transactional
    public Transfer transfer(String vmId, String expectedFrom, Long fromEpoch, String toHost, long toEpoch) {
        if (expectedFrom.equals(toHost)) {
            throw new OwnershipRefusedException(Reason.SAME_HOST, "VM '" + vmId + "' cannot move from host '" + expectedFrom
                    + "' to itself");
        }
        try (Connection c = dataSource.getConnection()) {
            String owner = lockVm(c, vmId);
            if (!owner.equals(expectedFrom)) {
                throw new OwnershipRefusedException(Reason.VM_ELSEWHERE, "VM '" + vmId + "' is on host '" + owner
                        + "', not on host '" + expectedFrom + "' as the transfer expected");
            }
            Map<String, HostRow> hosts = lockHosts(c, expectedFrom, toHost);
            HostRow to = hosts.get(toHost);
            if (to == null) {
                throw new OwnershipRefusedException(Reason.NO_SUCH_TARGET, "there is no host '" + toHost + "' to move VM '"
                        + vmId + "' to");
            }
            if (to.leftAt != null) {
                throw new OwnershipRefusedException(Reason.TARGET_LEFT, "host '" + toHost + "' left the cluster at "
                        + to.leftAt + "; VM '" + vmId + "' cannot move to it");
            }
            if (!to.live) {
                throw new OwnershipRefusedException(Reason.TARGET_EXPIRED, "host '" + toHost + "' holds no live lease ("
                        + (to.expiresAt == null ? "it never joined" : "expired at " + to.expiresAt)
                        + "); VM '" + vmId + "' cannot move to it");
            }
            if (to.epoch != toEpoch) {
                throw new OwnershipRefusedException(Reason.TARGET_EPOCH_STALE, "host '" + toHost + "' is at epoch " + to.epoch
                        + ", not " + toEpoch + " as the transfer of VM '" + vmId + "' was decided on (it joined again since)");
            }
            HostRow from = hosts.get(expectedFrom);
            if (fromEpoch != null && from.epoch != fromEpoch) {
                throw new OwnershipRefusedException(Reason.SOURCE_EPOCH_STALE, "host '" + expectedFrom + "' is at epoch "
                        + from.epoch + ", not " + fromEpoch + " as the transfer of VM '" + vmId + "' was decided on");
            }
            return new Transfer(vmId, expectedFrom, toHost, toEpoch, move(c, vmId, toHost));
        } catch (SQLException e) {
            throw new IllegalStateException("cannot transfer VM '" + vmId + "' to host '" + toHost + "': " + e.getMessage(), e);
        }
    }

    private record HostRow(long epoch, Instant leftAt, Instant expiresAt, boolean live) {
    }

    private static String lockVm(Connection c, String vmId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(LOCK_VM)) {
            s.setString(1, vmId);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    throw new OwnershipRefusedException(Reason.NO_SUCH_VM, "there is no VM '" + vmId + "' to transfer");
                }
                return rs.getString(1);
            }
        }
    }

    private static Map<String, HostRow> lockHosts(Connection c, String a, String b) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(LOCK_HOSTS)) {
            s.setString(1, a);
            s.setString(2, b);
            Map<String, HostRow> rows = new HashMap<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    rows.put(rs.getString(1), new HostRow(rs.getLong(2), Cluster.instant(rs, 3), Cluster.instant(rs, 4),
                            rs.getBoolean(5)));
                }
            }
            return rows;
        }
    }

    private static Instant move(Connection c, String vmId, String toHost) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(MOVE)) {
            s.setString(1, toHost);
            s.setString(2, vmId);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return Cluster.instant(rs, 1);
            }
        }
    }
}
