package io.hypervise.server.host;

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
import java.util.LinkedHashMap;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Puts a host into maintenance mode and takes it out: a host in maintenance runs what it runs but takes no new VM
 * (placement refuses it, saying so; {@link io.hypervise.server.vm.HostEvacuations} moves its running VMs away). Any
 * server does it for any member host, as the mark is the host's row. Audited, refusals too.
 */
@ApplicationScoped
public class HostMaintenance {

    private static final Logger LOG = Logger.getLogger(HostMaintenance.class);

    @Inject
    AgroalDataSource dataSource;

    @Inject
    AuditLog audit;

    /**
     * Sets the host's maintenance mark; setting it as it already is changes nothing, and is recorded as such.
     *
     * @throws NotFoundRefusal for no such host
     * @throws HostStateException for a host that left the cluster
     */
    @Transactional(dontRollbackOn = HostStateException.class)
    public void set(String id, boolean maintenance, Caller caller) {
        String target = "host:" + id;
        try (Connection c = dataSource.getConnection()) {
            boolean was;
            try (PreparedStatement s = c.prepareStatement("SELECT maintenance, left_at FROM hosts WHERE id = ? FOR UPDATE")) {
                s.setString(1, id);
                try (ResultSet rs = s.executeQuery()) {
                    if (!rs.next()) {
                        throw new NotFoundRefusal("no host with id '" + id + "'");
                    }
                    was = rs.getBoolean(1);
                    if (rs.getObject(2) != null) {
                        String reason = "host '" + id + "' left the cluster: it has no maintenance mode";
                        audit.record(caller, "host.maintenance", target, Map.of("maintenance", maintenance),
                                AuditOutcome.FAILED, reason);
                        throw new HostStateException(reason);
                    }
                }
            }
            if (was != maintenance) {
                try (PreparedStatement s = c.prepareStatement(
                        "UPDATE hosts SET maintenance = ?, updated_at = clock_timestamp() WHERE id = ?")) {
                    s.setBoolean(1, maintenance);
                    s.setString(2, id);
                    s.executeUpdate();
                }
            }
            Map<String, Object> parameters = new LinkedHashMap<>();
            parameters.put("maintenance", maintenance);
            parameters.put("changed", was != maintenance);
            audit.record(caller, "host.maintenance", target, parameters, AuditOutcome.SUCCEEDED, null);
            LOG.infof("host '%s' %s maintenance mode by %s", id, was == maintenance ? (maintenance ? "stays in" : "stays out of")
                    : (maintenance ? "put into" : "taken out of"), caller.username());
        } catch (SQLException e) {
            throw new IllegalStateException("cannot change the maintenance mode of host '" + id + "': " + e.getMessage(), e);
        }
    }
}
