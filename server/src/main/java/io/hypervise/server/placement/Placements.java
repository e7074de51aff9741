package io.hypervise.server.placement;

import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.inventory.DiskEntity;
import io.hypervise.server.inventory.InventoryUnavailableException;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.NicEntity;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.vm.VmOperation;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Placement on the cluster's real hosts: builds {@link HostFacts} for every member host from the database (what
 * its server published, the vCPUs and memory of the VMs placed on it, its lease by the database's clock, its
 * maintenance mark, its switches), and rates VMs with {@link Placement} under the administrators' settings. The
 * one place that decides whether this host takes a new VM.
 */
@ApplicationScoped
public class Placements {

    /** Host groups and switches have ids of the inventory's rule. */
    private static final Pattern GROUP = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");
    private static final Pattern SWITCH = Pattern.compile("[a-z0-9][a-z0-9-]{0,10}");
    private static final double MAX_WEIGHT = 100;

    /**
     * The states in which a VM has a worker, holding its memory and vCPUs on its host: what a host has committed.
     * Off and Saved VMs hold nothing until they start (V25's partial index vms_host_holding_idx has the same list).
     */
    static final String HOLDING = "'STARTING', 'RUNNING', 'PAUSED', 'SAVING', 'RESTORING', 'STOPPING', 'MIGRATING'";

    private static final String HOSTS = """
            SELECT h.id, h.name, h.host_group, h.maintenance,
                   h.left_at IS NULL AND coalesce(h.lease_expires_at > clock_timestamp(), false),
                   h.cpus, h.cpu_load_cores, coalesce(v.vcpus, 0), coalesce(v.vms, 0),
                   coalesce(h.vm_memory_bytes, h.memory_bytes), coalesce(v.memory_mib, 0) * 1048576,
                   coalesce(h.storage_bytes, 0), coalesce(h.storage_free_bytes, 0),
                   (SELECT array_agg(s.id ORDER BY s.id) FROM switches s WHERE s.host_id = h.id),
                   h.facts_published_at
              FROM hosts h
              LEFT JOIN (SELECT host_id, count(*) AS vms, sum(vcpus) AS vcpus, sum(memory_mib) AS memory_mib
                           FROM vms WHERE state IN (%s)
                          GROUP BY host_id) v ON v.host_id = h.id
             WHERE h.left_at IS NULL""".formatted(HOLDING);
    private static final String ORDER = " ORDER BY h.host_group, h.name, h.id";

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LocalHost localHost;

    @Inject
    AuditLog audit;

    @Inject
    VmAccess access;

    @Inject
    SelfServicePolicies policies;

    /** Every host of the cluster that has not left, as placement sees it, by group and name. */
    public List<HostCapacity> hosts() {
        return query(HOSTS + ORDER, null);
    }

    private List<HostCapacity> query(String sql, String id) {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            if (id != null) {
                s.setString(1, id);
            }
            List<HostCapacity> hosts = new ArrayList<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    double load = rs.getDouble(7);
                    Double cpuLoad = rs.wasNull() ? null : load;
                    Array switches = rs.getArray(14);
                    OffsetDateTime published = rs.getObject(15, OffsetDateTime.class);
                    hosts.add(new HostCapacity(rs.getString(1), rs.getString(2), rs.getString(3), rs.getBoolean(4),
                            rs.getBoolean(5), rs.getInt(6), cpuLoad, rs.getInt(8), rs.getInt(9), rs.getLong(10),
                            rs.getLong(11), rs.getLong(12), rs.getLong(13),
                            switches == null ? List.of() : List.of((String[]) switches.getArray()),
                            published == null ? null : published.toInstant()));
                }
            }
            return hosts;
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot read the hosts for placement: " + e.getMessage(), e);
        }
    }

    /** The goal and weights hosts are rated with. */
    public PlacementSettings settings() {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT goal, weight_cpu, weight_memory, weight_storage, updated_at, updated_by FROM placement_settings")) {
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return PlacementSettings.of(Goal.BALANCE, Weights.DEFAULT, null, null);
                }
                return PlacementSettings.of(Goal.valueOf(rs.getString(1)), new Weights(rs.getDouble(2), rs.getDouble(3),
                        rs.getDouble(4)), rs.getObject(5, OffsetDateTime.class).toInstant(), rs.getString(6));
            }
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot read the placement settings: " + e.getMessage(), e);
        }
    }

    /**
     * Changes the goal and weights (administrators: the resource requires {@link Permission#HOST_MANAGE}): a 400
     * naming each field that breaks its rule; audited, with the settings before and after.
     */
    @Transactional
    public PlacementSettings change(Caller caller, PlacementSettings.Change change) {
        List<FieldError> violations = new ArrayList<>();
        Goal goal = null;
        if (change == null) {
            violations.add(new FieldError("goal", "is required: balance or consolidate"));
            violations.add(new FieldError("weights", "is required: {\"cpu\": …, \"memory\": …, \"storage\": …}"));
            throw new InvalidRequestException("placement settings", violations);
        }
        if (change.goal() == null) {
            violations.add(new FieldError("goal", "is required: balance or consolidate"));
        } else {
            try {
                goal = Goal.valueOf(change.goal().strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                violations.add(new FieldError("goal", "must be balance or consolidate; was '" + change.goal() + "'"));
            }
        }
        Weights weights = weights(change.weights(), violations);
        if (!violations.isEmpty()) {
            throw new InvalidRequestException("placement settings", violations);
        }
        PlacementSettings before = settings();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement("""
                UPDATE placement_settings SET goal = ?, weight_cpu = ?, weight_memory = ?, weight_storage = ?,
                                              updated_at = clock_timestamp(), updated_by = ?
                RETURNING updated_at""")) {
            s.setString(1, goal.name());
            s.setDouble(2, weights.cpu());
            s.setDouble(3, weights.memory());
            s.setDouble(4, weights.storage());
            s.setString(5, caller.username());
            Instant at;
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                at = rs.getObject(1, OffsetDateTime.class).toInstant();
            }
            PlacementSettings after = PlacementSettings.of(goal, weights, at, caller.username());
            Map<String, Object> parameters = new LinkedHashMap<>();
            parameters.put("goal", after.goal());
            parameters.put("weights", weights);
            parameters.put("before", Map.of("goal", before.goal(), "weights", before.weights()));
            audit.record(caller, "placement.settings", "placement", parameters, AuditOutcome.SUCCEEDED, null);
            return after;
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot change the placement settings: " + e.getMessage(), e);
        }
    }

    private static Weights weights(PlacementSettings.WeightsChange w, List<FieldError> violations) {
        if (w == null) {
            violations.add(new FieldError("weights", "is required: {\"cpu\": …, \"memory\": …, \"storage\": …}"));
            return null;
        }
        int before = violations.size();
        weight("weights.cpu", w.cpu(), violations);
        weight("weights.memory", w.memory(), violations);
        weight("weights.storage", w.storage(), violations);
        if (violations.size() > before) {
            return null;
        }
        if (w.cpu() == 0 && w.memory() == 0 && w.storage() == 0) {
            violations.add(new FieldError("weights", "at least one of cpu, memory and storage must be above 0; all three are 0"));
            return null;
        }
        return new Weights(w.cpu(), w.memory(), w.storage());
    }

    private static void weight(String field, Double value, List<FieldError> violations) {
        if (value == null) {
            violations.add(new FieldError(field, "is required: a number from 0 to " + (int) MAX_WEIGHT));
        } else if (!Double.isFinite(value) || value < 0 || value > MAX_WEIGHT) {
            violations.add(new FieldError(field, "must be a number from 0 to " + (int) MAX_WEIGHT + "; was " + value));
        }
    }

    /** Every host rated for a described VM (what-if): a 400 naming each field that breaks its rule. */
    public Ratings rate(WhatIf vm) {
        List<FieldError> violations = new ArrayList<>();
        if (vm == null) {
            vm = new WhatIf(null, null, null, null, null);
        }
        if (vm.vcpus() == null || vm.vcpus() < 1 || vm.vcpus() > 64) {
            violations.add(new FieldError("vcpus", "is required: a whole number from 1 to 64" + was(vm.vcpus())));
        }
        if (vm.memoryMib() == null || vm.memoryMib() < 1 || vm.memoryMib() > 1048576) {
            violations.add(new FieldError("memoryMib", "is required: a whole number of MiB from 1 to 1048576" + was(vm.memoryMib())));
        }
        if (vm.diskMib() != null && (vm.diskMib() < 0 || vm.diskMib() > Long.MAX_VALUE >> 20)) {
            violations.add(new FieldError("diskMib", "must be 0 or more MiB" + was(vm.diskMib())));
        }
        List<String> switches = vm.switches() == null ? List.of() : vm.switches();
        for (int i = 0; i < switches.size(); i++) {
            String id = switches.get(i);
            if (id == null || !SWITCH.matcher(id).matches()) {
                violations.add(new FieldError("switches[" + i + "]", "must be a switch id: 1 to 11 lower-case letters,"
                        + " digits or dashes, starting with a letter or digit" + was(id)));
            }
        }
        if (vm.hostGroup() != null && !GROUP.matcher(vm.hostGroup()).matches()) {
            violations.add(new FieldError("hostGroup", "must be a host group id: 1 to 40 lower-case letters, digits or"
                    + " dashes, starting with a letter or digit" + was(vm.hostGroup())));
        }
        if (!violations.isEmpty()) {
            throw new InvalidRequestException("VM described for placement", violations);
        }
        long diskBytes = vm.diskMib() == null ? 0 : vm.diskMib() << 20;
        VmDemand demand = new VmDemand(vm.vcpus(), vm.memoryMib(), diskBytes, Set.of(), Set.copyOf(switches),
                vm.hostGroup() == null ? Set.of() : Set.of(vm.hostGroup()), null, Set.of());
        return rate(null, null, demand);
    }

    /**
     * Every host rated for an existing VM: where it could go. Its own host is refused ("the VM is already there"),
     * as for a migration; its memory and vCPUs stay counted there. 404 for a VM the caller may not see.
     */
    @Transactional
    public Ratings rate(Caller caller, String vmId) {
        VmEntity vm = access.require(caller, vmId, VmOperation.READ);
        long localDisk = 0;
        for (DiskEntity disk : vm.disks) {
            if (!disk.hostDevice && disk.sizeBytes != null) {
                localDisk += disk.sizeBytes;
            }
        }
        Set<String> switches = new TreeSet<>();
        for (NicEntity nic : vm.nics) {
            if (nic.switchId != null) {
                switches.add(nic.switchId);
            }
        }
        return rate(vm.id, vm.name, new VmDemand(vm.vcpus, vm.memoryMib, localDisk, Set.of(), switches, Set.of(), vm.hostId,
                Set.of()));
    }

    private Ratings rate(String vmId, String vmName, VmDemand demand) {
        PlacementSettings settings = settings();
        List<HostFacts> facts = hosts().stream().map(HostCapacity::facts).toList();
        return new Ratings(vmId, vmName, describe(demand), settings,
                Placement.rate(demand, facts, settings.goalValue(), settings.weights()));
    }

    /**
     * Refuses (409, audited as denied) a new VM that this host is rated unsuitable for, with placement's every
     * reason: in maintenance, its lease not live, not enough memory or local storage, a switch it lacks, or, for a
     * caller whose self-service policy names host groups, a host group outside them. Creation elsewhere comes
     * with server-to-server routing; until then a new VM is made on the host whose server is asked.
     *
     * @param newImageBytes what the VM's new images may grow to on this host's storage
     */
    public void requireRoomHere(Caller caller, String auditAction, VmDefinition vm, long newImageBytes,
            Map<String, Object> parameters) {
        VmDemand demand = demandOf(caller, vm, newImageBytes);
        String here = localHost.id();
        List<HostCapacity> found = query(HOSTS + " AND h.id = ?", here);
        List<String> reasons;
        if (found.isEmpty()) {
            reasons = List.of("this host has left the cluster");
        } else {
            PlacementSettings settings = settings();
            Rating rating = Placement.rate(demand, List.of(found.getFirst().facts()), settings.goalValue(),
                    settings.weights()).getFirst();
            if (rating.eligible()) {
                return;
            }
            reasons = rating.reasons();
        }
        String why = "host '" + here + "' cannot take this VM: " + String.join("; ", reasons);
        audit.recordDenial(caller, auditAction, vm.id() == null ? null : AuditLog.vm(vm.id()), parameters, why);
        throw new PlacementRefusedException(here, reasons);
    }

    /** Every host rated for a VM about to be created (the new-VM wizard's "Rate hosts"), as {@link #requireRoomHere} rates this one. */
    public Ratings rateNew(Caller caller, VmDefinition vm, long newImageBytes) {
        return rate(null, null, demandOf(caller, vm, newImageBytes));
    }

    /** What a new VM needs of a host: its size, its new images, its switches, and its owner's policy's host groups. */
    private VmDemand demandOf(Caller caller, VmDefinition vm, long newImageBytes) {
        Set<String> switches = new TreeSet<>();
        for (Nic nic : vm.nics()) {
            if (nic.switchId() != null) {
                switches.add(nic.switchId());
            }
        }
        return new VmDemand(vm.vcpus(), vm.memoryMib(), newImageBytes, Set.of(), switches, allowedGroups(caller), null,
                Set.of());
    }

    /** The host groups the caller's self-service policy lets their VMs run in; empty (any) for everybody else. */
    private Set<String> allowedGroups(Caller caller) {
        if (!policies.govern(caller, Permission.VM_CREATE)) {
            return Set.of();
        }
        EffectivePolicy.Setting<Set<String>> groups = policies.effective(caller).hostGroups();
        return groups.configured() ? groups.value() : Set.of();
    }

    /** "2 vCPUs, 512 MiB, 1024 MiB of local disk, switches a, b, host group g". */
    private static String describe(VmDemand d) {
        StringBuilder s = new StringBuilder().append(d.vcpus()).append(d.vcpus() == 1 ? " vCPU, " : " vCPUs, ")
                .append(d.memoryMib()).append(" MiB");
        if (d.localDiskBytes() > 0) {
            s.append(", ").append(Math.ceilDiv(d.localDiskBytes(), 1L << 20)).append(" MiB of local disk");
        }
        if (!d.switches().isEmpty()) {
            s.append(", switch").append(d.switches().size() == 1 ? " " : "es ").append(String.join(", ", d.switches()));
        }
        if (!d.allowedGroups().isEmpty()) {
            s.append(", host group ").append(String.join(" or ", d.allowedGroups()));
        }
        if (d.avoidHost() != null) {
            s.append(", now on ").append(d.avoidHost());
        }
        return s.toString();
    }

    private static String was(Object value) {
        return value == null ? "" : "; was " + (value instanceof String ? "'" + value + "'" : Objects.toString(value));
    }
}
