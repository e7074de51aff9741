package io.hypervise.server.inventory;

import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.CdRom;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.hibernate.exception.ConstraintViolationException;
import org.postgresql.util.PSQLException;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Stores and loads the VMs' rows. Knows no rules: who may see what, and what a change means, is the
 * VM service's. Each method joins the caller's transaction, or is one of its own where there is none.
 */
@ApplicationScoped
public class VmRepository {

    @Inject
    AgroalDataSource dataSource;

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    /** The VM's row with its disks and adapters; empty for an id no VM can have, whatever bytes it holds. */
    @Transactional
    public Optional<VmEntity> find(String id) {
        VmEntity vm = wellFormed(id) ? VmEntity.findById(id) : null;
        return Optional.ofNullable(vm).map(VmEntity::loaded);
    }

    /** The VMs' names by id, for the ids that still have a VM. */
    @Transactional
    public Map<String, String> namesOf(List<String> ids) {
        return ids.isEmpty() ? Map.of() : VmEntity.<VmEntity>list("id in ?1", ids).stream()
                .collect(Collectors.toMap(vm -> vm.id, vm -> vm.name));
    }

    /** The rows of the VMs this host runs. Inside the caller's transaction: they are changed in it. */
    @Transactional(Transactional.TxType.MANDATORY)
    public List<VmEntity> onHost(String hostId) {
        return VmEntity.list("hostId", hostId);
    }

    /** The ids of the VMs with a running or paused guest on this host, the largest (by memory) first. */
    public List<String> runningOn(String hostId) {
        try (Connection c = dataSource.getConnection(); PreparedStatement select = c.prepareStatement(
                "SELECT id FROM vms WHERE host_id = ? AND state IN ('RUNNING', 'PAUSED') ORDER BY memory_mib DESC, id")) {
            select.setString(1, hostId);
            List<String> ids = new java.util.ArrayList<>();
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
            return ids;
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot list the VMs running on host " + hostId + ": " + e.getMessage(), e);
        }
    }

    @Transactional(Transactional.TxType.MANDATORY)
    public boolean exists(String id) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement select = c.prepareStatement("SELECT 1 FROM vms WHERE id = ?")) {
            select.setString(1, id);
            try (ResultSet rs = select.executeQuery()) {
                return rs.next();
            }
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot look VM " + id + " up: " + e.getMessage(), e);
        }
    }

    /** The name of the VM with a network adapter of this MAC, if one has it (MACs are unique in the inventory). */
    @Transactional
    public Optional<String> holderOfMac(String mac) {
        return NicEntity.<NicEntity>find("mac", mac).firstResultOptional().map(n -> n.vm.name);
    }

    private static final String INSERT_VM = """
            INSERT INTO vms (id, host_id, template_id, name, owner, owner_groups, vcpus, memory_mib, max_vcpus,
                             max_memory_mib, memory_dimms_mib, profile, firmware, display, boot_kind, boot_kernel,
                             boot_initramfs, boot_command_line, boot_image, cpu_weight, cpu_cap_percent,
                             memory_reservation_mib, balloon_target_mib, disk_bytes_per_second, disk_iops,
                             network_receive_bits_per_second, network_transmit_bits_per_second, boot_library_item_id,
                             cdrom_drive, cdrom_image, state, state_reason, state_since, created_at, updated_at, pending,
                             current_checkpoint_id, lease_expires_at, lease_warned_at, lease_stopped_at, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                    ?, ?, ?, ?, ?, 0)""";
    private static final String INSERT_DISK = """
            INSERT INTO disks (vm_id, position, path, format, read_only, size_bytes, library_item_id, backing_path,
                               backing_format, node_name, host_device)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";
    private static final String INSERT_NIC = """
            INSERT INTO nics (vm_id, position, mac, switch_id, vlan, node_name) VALUES (?, ?, ?, ?, ?, ?)""";

    /**
     * Writes a new VM's rows now (its disks and adapters with it), inside the caller's transaction, so what follows
     * in it sees them. Plain JDBC on the transaction's connection: through Hibernate (persist, cascade, flush) this
     * was half of a creation's CPU, by JFR. The entity is not watched: later changes to it are not saved. A rule of
     * the inventory the rows break (a MAC or a writable image another VM has) is Hibernate's
     * {@link ConstraintViolationException} naming the constraint, as from any other write.
     */
    @Transactional(Transactional.TxType.MANDATORY)
    public void insert(VmEntity vm) {
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement row = c.prepareStatement(INSERT_VM)) {
                BootColumns boot = vm.boot == null ? new BootColumns() : vm.boot;
                ResourceColumns r = vm.resources == null ? new ResourceColumns() : vm.resources;
                int i = 0;
                row.setString(++i, vm.id);
                row.setString(++i, vm.hostId);
                row.setString(++i, vm.templateId);
                row.setString(++i, vm.name);
                row.setString(++i, vm.owner);
                row.setArray(++i, c.createArrayOf("text", vm.ownerGroups == null ? new String[0] : vm.ownerGroups));
                row.setInt(++i, vm.vcpus);
                row.setInt(++i, vm.memoryMib);
                row.setObject(++i, vm.maxVcpus, Types.INTEGER);
                row.setObject(++i, vm.maxMemoryMib, Types.INTEGER);
                row.setArray(++i, c.createArrayOf("integer", vm.memoryDimmsMib == null ? new Integer[0] : vm.memoryDimmsMib));
                row.setString(++i, name(vm.profile));
                row.setString(++i, name(vm.firmware));
                row.setString(++i, name(vm.display));
                row.setString(++i, boot.kind);
                row.setString(++i, boot.kernel);
                row.setString(++i, boot.initramfs);
                row.setString(++i, boot.commandLine);
                row.setString(++i, boot.image);
                row.setObject(++i, r.cpuWeight, Types.INTEGER);
                row.setObject(++i, r.cpuCapPercent, Types.INTEGER);
                row.setObject(++i, r.memoryReservationMib, Types.INTEGER);
                row.setObject(++i, r.balloonTargetMib, Types.INTEGER);
                row.setObject(++i, r.diskBytesPerSecond, Types.BIGINT);
                row.setObject(++i, r.diskIops, Types.INTEGER);
                row.setObject(++i, r.networkReceiveBitsPerSecond, Types.BIGINT);
                row.setObject(++i, r.networkTransmitBitsPerSecond, Types.BIGINT);
                row.setString(++i, vm.bootLibraryItemId);
                row.setBoolean(++i, vm.cdromDrive);
                row.setString(++i, vm.cdromImage);
                row.setString(++i, name(vm.state));
                row.setString(++i, vm.stateReason);
                row.setObject(++i, time(vm.stateSince), Types.TIMESTAMP_WITH_TIMEZONE);
                row.setObject(++i, time(vm.createdAt), Types.TIMESTAMP_WITH_TIMEZONE);
                row.setObject(++i, time(vm.updatedAt), Types.TIMESTAMP_WITH_TIMEZONE);
                row.setString(++i, name(vm.pending));
                row.setString(++i, vm.currentCheckpointId);
                row.setObject(++i, time(vm.leaseExpiresAt), Types.TIMESTAMP_WITH_TIMEZONE);
                row.setObject(++i, time(vm.leaseWarnedAt), Types.TIMESTAMP_WITH_TIMEZONE);
                row.setObject(++i, time(vm.leaseStoppedAt), Types.TIMESTAMP_WITH_TIMEZONE);
                row.executeUpdate();
            }
            if (!vm.disks.isEmpty()) {
                try (PreparedStatement disks = c.prepareStatement(INSERT_DISK)) {
                    for (DiskEntity d : vm.disks) {
                        int i = 0;
                        disks.setString(++i, vm.id);
                        disks.setShort(++i, d.position);
                        disks.setString(++i, d.path);
                        disks.setString(++i, name(d.format));
                        disks.setBoolean(++i, d.readOnly);
                        disks.setObject(++i, d.sizeBytes, Types.BIGINT);
                        disks.setString(++i, d.libraryItemId);
                        disks.setString(++i, d.backingPath);
                        disks.setString(++i, name(d.backingFormat));
                        disks.setString(++i, d.nodeName);
                        disks.setBoolean(++i, d.hostDevice);
                        disks.addBatch();
                    }
                    disks.executeBatch();
                }
            }
            if (!vm.nics.isEmpty()) {
                try (PreparedStatement nics = c.prepareStatement(INSERT_NIC)) {
                    for (NicEntity n : vm.nics) {
                        int i = 0;
                        nics.setString(++i, vm.id);
                        nics.setShort(++i, n.position);
                        nics.setString(++i, n.mac);
                        nics.setString(++i, n.switchId);
                        nics.setObject(++i, n.vlan, Types.INTEGER);
                        nics.setString(++i, n.nodeName);
                        nics.addBatch();
                    }
                    nics.executeBatch();
                }
            }
        } catch (SQLException e) {
            throw refusal("cannot record VM " + vm.id, e);
        }
    }

    /**
     * Records where this host keeps a VM that arrived from another: its disks' images and backing files, its boot
     * files and its CD's image, as the engine here has them (each host keeps the library's files under its own
     * storage root). Committed now.
     */
    @Transactional
    public void recordPaths(String id, VmDefinition definition) {
        BootColumns boot = BootColumns.of(definition.boot());
        CdRom cdrom = definition.cdrom();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement row = c.prepareStatement("""
                    UPDATE vms SET boot_kernel = ?, boot_initramfs = ?, boot_image = ?, cdrom_image = ?, updated_at = now()
                     WHERE id = ?""")) {
                row.setString(1, boot.kernel);
                row.setString(2, boot.initramfs);
                row.setString(3, boot.image);
                row.setString(4, cdrom == null || cdrom.isEmpty() ? null : cdrom.medium().toString());
                row.setString(5, id);
                row.executeUpdate();
            }
            try (PreparedStatement disk = c.prepareStatement(
                    "UPDATE disks SET path = ?, backing_path = ? WHERE vm_id = ? AND position = ?")) {
                List<Disk> disks = definition.disks();
                for (int i = 0; i < disks.size(); i++) {
                    Disk d = disks.get(i);
                    disk.setString(1, d.path().toString());
                    disk.setString(2, d.backing() == null ? null : d.backing().path().toString());
                    disk.setString(3, id);
                    disk.setShort(4, (short) i);
                    disk.addBatch();
                }
                disk.executeBatch();
            }
        } catch (SQLException e) {
            throw refusal("cannot record where VM " + id + "'s files are", e);
        }
    }

    /** A broken rule of the inventory as Hibernate reports one (mapped to 409 in one place); else the database is away. */
    private static RuntimeException refusal(String what, SQLException e) {
        SQLException cause = e instanceof BatchUpdateException b && b.getNextException() != null ? b.getNextException() : e;
        if ("23505".equals(cause.getSQLState()) || "23503".equals(cause.getSQLState()) || "23514".equals(cause.getSQLState())) {
            String constraint = cause instanceof PSQLException p && p.getServerErrorMessage() != null
                    ? p.getServerErrorMessage().getConstraint() : null;
            return new ConstraintViolationException(what + ": " + cause.getMessage(), cause, constraint);
        }
        return new InventoryUnavailableException(what + ": " + cause.getMessage(), cause);
    }

    private static String name(Enum<?> value) {
        return value == null ? null : value.name();
    }

    private static OffsetDateTime time(Instant instant) {
        return instant == null ? null : instant.atOffset(ZoneOffset.UTC);
    }

    /** Marks what is under way for the VM (null: nothing): in the caller's transaction, or committed now. */
    @Transactional
    public void markPending(String id, VmEntity.Pending pending) {
        // Plain JDBC on the transaction's connection: through Hibernate this update cost a tenth of a
        // creation's CPU (interpreted anew, and a flush of the session first), by JFR.
        try (Connection c = dataSource.getConnection();
                PreparedStatement update = c.prepareStatement("UPDATE vms SET pending = ? WHERE id = ?")) {
            update.setString(1, pending == null ? null : pending.name());
            update.setString(2, id);
            update.executeUpdate();
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot mark VM " + id + ": " + e.getMessage(), e);
        }
    }

    /** Removes the VM's row with its disks and adapters: in the caller's transaction, or committed now. */
    @Transactional
    public void remove(String id) {
        VmEntity.deleteById(id);
    }

    /**
     * Records the state host {@code hostId}'s engine reports, only while that host owns the VM: a VM arriving live
     * (still the source's) or one that has just left (now the target's) is not the reporting host's to describe.
     * In the caller's transaction, or committed now.
     */
    @Transactional
    public void recordState(String id, String hostId, VmState state, String reason, Instant since) {
        VmEntity.update("state = ?1, stateReason = ?2, stateSince = ?3, updatedAt = ?4 where id = ?5 and hostId = ?6",
                state, VmEntity.reason(reason), since, Instant.now(), id, hostId);
    }

    /** Whether the text is an id a VM can have (lower-case letters, digits, dashes; at most 40). */
    static boolean wellFormed(String id) {
        return id != null && ID.matcher(id).matches();
    }
}
