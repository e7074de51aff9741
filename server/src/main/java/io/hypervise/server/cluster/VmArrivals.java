package io.hypervise.server.cluster;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.inventory.InventoryUnavailableException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * VMs arriving live at a host ({@code vm_arrivals}): the fence between a target that gives an arrival up and a
 * source that hands the VM over. The source's {@link #handOver} and the target's {@link #giveUp} each change the
 * arrival's row only as it was when the other had not acted; PostgreSQL's row lock orders them, so exactly one wins.
 * A hand-over commits with the VM's transfer ({@link VmOwnership#transfer}), in the caller's transaction.
 */
@ApplicationScoped
public class VmArrivals {

    /**
     * An arrival as recorded: to {@code host} from {@code fromHost}. {@code stale}: recorded longer ago than the age
     * asked about; {@code handedOver}: handed over longer ago than the grace asked about (a source that handed it over
     * just now is about to ask for it to be resumed).
     */
    public record Arrival(String vmId, String host, String fromHost, boolean paused, boolean handedOver, boolean stale) {
    }

    /** What {@link #giveUp} found. */
    public enum GiveUp {
        /** The arrival was not handed over: it is given up, and no hand-over can happen any more. */
        GIVEN_UP,
        /** The source handed the VM over first: this host owns it and must resume it. */
        HANDED_OVER,
        /** There was no arrival of the VM here. */
        NONE
    }

    @Inject
    AgroalDataSource dataSource;

    /** Records that VM {@code vmId} is arriving here from {@code fromHost}; a 409 if it is arriving somewhere already. */
    @Transactional
    public void record(String vmId, String host, String fromHost, boolean paused) {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement("""
                INSERT INTO vm_arrivals (vm_id, host_id, from_host, paused) VALUES (?, ?, ?, ?)
                ON CONFLICT (vm_id) DO NOTHING""")) {
            s.setString(1, vmId);
            s.setString(2, host);
            s.setString(3, fromHost);
            s.setBoolean(4, paused);
            if (s.executeUpdate() == 0) {
                throw new io.hypervise.server.inventory.VmConflictException("VM " + vmId
                        + " is arriving at a host already: one live migration of a VM at a time");
            }
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot record VM " + vmId + "'s arrival: " + e.getMessage(), e);
        }
    }

    /**
     * The source's side of the fence, in the transaction that transfers the VM: marks the arrival at {@code host}
     * handed over, only while it is recorded and neither handed over nor given up.
     *
     * @throws OwnershipRefusedException when the target has given the arrival up (or never recorded it)
     */
    @Transactional(Transactional.TxType.MANDATORY)
    public void handOver(String vmId, String host) {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(
                "UPDATE vm_arrivals SET handed_over = clock_timestamp() WHERE vm_id = ? AND host_id = ? AND handed_over IS NULL")) {
            s.setString(1, vmId);
            s.setString(2, host);
            if (s.executeUpdate() == 0) {
                throw new OwnershipRefusedException(OwnershipRefusedException.Reason.NO_ARRIVAL, "host '" + host
                        + "' is not waiting for VM '" + vmId + "' any more: it gave the arrival up");
            }
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot hand VM " + vmId + " over: " + e.getMessage(), e);
        }
    }

    /** The target's side of the fence: gives up the arrival here, unless its source has handed the VM over. */
    @Transactional
    public GiveUp giveUp(String vmId, String host) {
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement s = c.prepareStatement(
                    "DELETE FROM vm_arrivals WHERE vm_id = ? AND host_id = ? AND handed_over IS NULL")) {
                s.setString(1, vmId);
                s.setString(2, host);
                if (s.executeUpdate() == 1) {
                    return GiveUp.GIVEN_UP;
                }
            }
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT 1 FROM vm_arrivals WHERE vm_id = ? AND host_id = ? AND handed_over IS NOT NULL")) {
                s.setString(1, vmId);
                s.setString(2, host);
                try (ResultSet rs = s.executeQuery()) {
                    return rs.next() ? GiveUp.HANDED_OVER : GiveUp.NONE;
                }
            }
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot give VM " + vmId + "'s arrival up: " + e.getMessage(), e);
        }
    }

    /** The arrival is over (the VM runs here, or nothing of it is left here): its row goes. */
    @Transactional
    public void forget(String vmId, String host) {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(
                "DELETE FROM vm_arrivals WHERE vm_id = ? AND host_id = ?")) {
            s.setString(1, vmId);
            s.setString(2, host);
            s.executeUpdate();
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot end VM " + vmId + "'s arrival: " + e.getMessage(), e);
        }
    }

    /** The arrivals from {@code host} not handed over: live migrations it started and has not handed over. */
    @Transactional
    public List<Arrival> notHandedOverFrom(String host) {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement("""
                SELECT vm_id, host_id, paused FROM vm_arrivals WHERE from_host = ? AND handed_over IS NULL ORDER BY since""")) {
            s.setString(1, host);
            List<Arrival> arrivals = new ArrayList<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    arrivals.add(new Arrival(rs.getString(1), rs.getString(2), host, rs.getBoolean(3), false, false));
                }
            }
            return arrivals;
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot read the VMs leaving host " + host + ": " + e.getMessage(), e);
        }
    }

    /** The arrivals at {@code host}, {@link Arrival#stale} after {@code age}, {@link Arrival#handedOver} after {@code grace}. */
    @Transactional
    public List<Arrival> at(String host, Duration age, Duration grace) {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement("""
                SELECT vm_id, from_host, paused,
                       coalesce(handed_over < clock_timestamp() - make_interval(secs => ?), false),
                       since < clock_timestamp() - make_interval(secs => ?)
                  FROM vm_arrivals WHERE host_id = ? ORDER BY since""")) {
            s.setDouble(1, grace.toMillis() / 1000.0);
            s.setDouble(2, age.toMillis() / 1000.0);
            s.setString(3, host);
            List<Arrival> arrivals = new ArrayList<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    arrivals.add(new Arrival(rs.getString(1), host, rs.getString(2), rs.getBoolean(3), rs.getBoolean(4),
                            rs.getBoolean(5)));
                }
            }
            return arrivals;
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot read the VMs arriving at host " + host + ": " + e.getMessage(), e);
        }
    }
}
