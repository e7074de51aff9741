package io.hypervise.server.inventory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Firmware;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import org.hibernate.engine.spi.SelfDirtinessTracker;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Pages of VMs, read for lists: one statement per page, which returns the page's VMs with their disks
 * and adapters and the number of VMs that match, all from one snapshot, outside any transaction. No
 * entity is managed and nothing is loaded per VM, so a page costs the same at 100 VMs as at 20,000
 * (bench/README.md "api"). The rows come back as detached {@link VmEntity} objects, read-only.
 *
 * <p>Pages follow {@code name, id} (indexes vms_name_id_idx and vms_owner_name_id_idx). A page is asked
 * for by number (an offset: the index is walked from the start, so deep pages cost more) or after the
 * last VM of the page before (keyset: any depth costs what the first page costs). Totals come from
 * vm_counts (V23) unless the name is searched, which counts the matches.
 */
@ApplicationScoped
public class VmPages {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static final String COLUMNS = """
            v.id, v.name, v.owner, v.host_id, v.template_id, v.state, v.state_reason, v.state_since, v.vcpus,
            v.memory_mib, v.max_vcpus, v.max_memory_mib, v.profile, v.display, v.firmware, v.cdrom_drive,
            v.cdrom_image, v.boot_library_item_id, v.lease_expires_at, v.lease_warned_at, v.lease_stopped_at,
            v.pending, v.cpu_weight, v.cpu_cap_percent, v.memory_reservation_mib, v.balloon_target_mib,
            v.disk_bytes_per_second, v.disk_iops, v.network_receive_bits_per_second,
            v.network_transmit_bits_per_second,
            (SELECT json_agg(json_build_array(d.position, d.path, d.format, d.read_only, d.size_bytes,
                    d.library_item_id, d.backing_path, d.host_device) ORDER BY d.position)
               FROM disks d WHERE d.vm_id = v.id),
            (SELECT json_agg(json_build_array(n.position, n.mac, n.switch_id, n.vlan) ORDER BY n.position)
               FROM nics n WHERE n.vm_id = v.id)""";

    @Inject
    AgroalDataSource dataSource;

    /** Where a page starts: after this VM in the list's order (a keyset), or at an offset. */
    public sealed interface Start {
    }

    public record AtOffset(long offset) implements Start {
    }

    public record After(VmCursor cursor) implements Start {
    }

    /** A page: its VMs, whether more follow it, and how many VMs match in all. */
    public record Page(List<VmEntity> items, boolean more, long total) {
    }

    /**
     * The VMs that match, {@code onlyOwner}'s where given, by name then id, from {@code start}: at most
     * {@code size}.
     */
    public Page page(Optional<String> onlyOwner, VmFilter filter, Start start, int size) {
        // Owner and state are columns of both vms and vm_counts: one list of them, written for each table.
        List<Map.Entry<String, Object>> equal = new ArrayList<>();
        onlyOwner.ifPresent(me -> equal.add(Map.entry("owner", me)));
        filter.owner().ifPresent(o -> equal.add(Map.entry("owner", o)));
        filter.state().ifPresent(st -> equal.add(Map.entry("state", st.name())));
        List<Object> where = new ArrayList<>();
        String condition = conditions("v", equal, where);
        if (filter.nameContains().isPresent()) {
            condition += " AND lower(v.name) LIKE ?";
            where.add("%" + filter.nameContains().get().toLowerCase().replace("\\", "\\\\").replace("%", "\\%")
                    .replace("_", "\\_") + "%");
        }
        List<Object> params = new ArrayList<>();
        // The total: from vm_counts, unless the name is searched, when the matches are counted.
        String total = filter.nameContains().isPresent() ? "SELECT count(*) AS n FROM vms v WHERE " + condition
                : "SELECT coalesce(sum(c.n), 0) AS n FROM vm_counts c WHERE " + conditions("c", equal, params);
        if (filter.nameContains().isPresent()) {
            params.addAll(where);
        }
        StringBuilder page = new StringBuilder("SELECT v.id FROM vms v WHERE ").append(condition);
        params.addAll(where);
        if (start instanceof After after) {
            page.append(" AND (v.name, v.id) > (?, ?)");
            params.add(after.cursor().name());
            params.add(after.cursor().id());
        }
        page.append(" ORDER BY v.name, v.id");
        if (start instanceof AtOffset at && at.offset() > 0) {
            page.append(" OFFSET ?");
            params.add(at.offset());
        }
        page.append(" LIMIT ?");
        params.add(size + 1); // one more than asked: whether another page follows
        // The page's ids first (from the index alone, where the visibility map allows), then their columns:
        // the disks and adapters are read for the VMs shown, never for those an offset skips. The total
        // rides along on every row, and on one row of nulls when the page is empty.
        String sql = "WITH total AS (" + total + "), page AS (" + page + ") SELECT (SELECT n FROM total), " + COLUMNS
                + " FROM (SELECT 1) one LEFT JOIN (page JOIN vms v USING (id)) ON TRUE ORDER BY v.name, v.id";
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < params.size(); i++) {
                s.setObject(i + 1, params.get(i));
            }
            List<VmEntity> items = new ArrayList<>();
            long matching = 0;
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    matching = rs.getLong(1);
                    if (rs.getString(2) != null) {
                        items.add(vm(rs));
                    }
                }
            }
            boolean more = items.size() > size;
            return new Page(more ? items.subList(0, size) : items, more, matching);
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot read the VM list: " + e.getMessage(), e);
        }
    }

    /** "TRUE AND alias.column = ? ..." for each pair, its values added to {@code params}. */
    private static String conditions(String alias, List<Map.Entry<String, Object>> equal, List<Object> params) {
        StringBuilder sql = new StringBuilder("TRUE");
        for (Map.Entry<String, Object> e : equal) {
            sql.append(" AND ").append(alias).append('.').append(e.getKey()).append(" = ?");
            params.add(e.getValue());
        }
        return sql.toString();
    }

    private static VmEntity vm(ResultSet rs) throws SQLException {
        VmEntity vm = untracked(new VmEntity());
        int i = 2;
        vm.id = rs.getString(i++);
        vm.name = rs.getString(i++);
        vm.owner = rs.getString(i++);
        vm.hostId = rs.getString(i++);
        vm.templateId = rs.getString(i++);
        vm.state = VmState.valueOf(rs.getString(i++));
        vm.stateReason = rs.getString(i++);
        vm.stateSince = instant(rs.getTimestamp(i++));
        vm.vcpus = rs.getInt(i++);
        vm.memoryMib = rs.getInt(i++);
        vm.maxVcpus = (Integer) rs.getObject(i++);
        vm.maxMemoryMib = (Integer) rs.getObject(i++);
        vm.profile = DeviceProfile.valueOf(rs.getString(i++));
        vm.display = Display.valueOf(rs.getString(i++));
        vm.firmware = Firmware.valueOf(rs.getString(i++));
        vm.cdromDrive = rs.getBoolean(i++);
        vm.cdromImage = rs.getString(i++);
        vm.bootLibraryItemId = rs.getString(i++);
        vm.leaseExpiresAt = instant(rs.getTimestamp(i++));
        vm.leaseWarnedAt = instant(rs.getTimestamp(i++));
        vm.leaseStoppedAt = instant(rs.getTimestamp(i++));
        String pending = rs.getString(i++);
        vm.pending = pending == null ? null : VmEntity.Pending.valueOf(pending);
        ResourceColumns r = new ResourceColumns();
        r.cpuWeight = (Integer) rs.getObject(i++);
        r.cpuCapPercent = (Integer) rs.getObject(i++);
        r.memoryReservationMib = (Integer) rs.getObject(i++);
        r.balloonTargetMib = (Integer) rs.getObject(i++);
        r.diskBytesPerSecond = (Long) rs.getObject(i++);
        r.diskIops = (Integer) rs.getObject(i++);
        r.networkReceiveBitsPerSecond = (Long) rs.getObject(i++);
        r.networkTransmitBitsPerSecond = (Long) rs.getObject(i++);
        vm.resources = r;
        for (JsonNode d : json(rs.getString(i++))) {
            DiskEntity disk = untracked(new DiskEntity());
            disk.vm = vm;
            disk.position = (short) d.get(0).asInt();
            disk.path = d.get(1).asText();
            disk.format = DiskFormat.valueOf(d.get(2).asText());
            disk.readOnly = d.get(3).asBoolean();
            disk.sizeBytes = d.get(4).isNull() ? null : d.get(4).asLong();
            disk.libraryItemId = text(d.get(5));
            disk.backingPath = text(d.get(6));
            disk.hostDevice = d.get(7).asBoolean();
            vm.disks.add(disk);
        }
        for (JsonNode n : json(rs.getString(i))) {
            NicEntity nic = untracked(new NicEntity());
            nic.vm = vm;
            nic.position = (short) n.get(0).asInt();
            nic.mac = n.get(1).asText();
            nic.switchId = text(n.get(2));
            nic.vlan = n.get(3).isNull() ? null : n.get(3).asInt();
            vm.nics.add(nic);
        }
        return vm;
    }

    /**
     * An entity filled here only to be read, never saved: Hibernate's enhancement would note every field set (a
     * linear search and an array copy each, by JFR a tenth of a page's CPU).
     */
    private static <T> T untracked(T entity) {
        if (entity instanceof SelfDirtinessTracker tracker) {
            tracker.$$_hibernate_suspendDirtyTracking(true);
        }
        return entity;
    }

    private static JsonNode json(String array) {
        if (array == null) {
            return JSON.createArrayNode();
        }
        try {
            return JSON.readTree(array);
        } catch (IOException e) {
            throw new UncheckedIOException("PostgreSQL returned JSON that does not parse", e);
        }
    }

    private static String text(JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
