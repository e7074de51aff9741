package io.hypervise.server.placement;

import java.util.OptionalDouble;
import java.util.Set;

/**
 * What placement knows of one host at the moment it rates it: the inventory's view (group, maintenance,
 * lease, what is committed to VMs there, the switches and shared storage it has) and the counters' recent
 * CPU load.
 *
 * @param id              the host id ({@code hypervise.host-id})
 * @param name            the name people know it by
 * @param group           its host group ({@code default} unless changed)
 * @param inMaintenance   an administrator put it in maintenance mode: nothing new is placed there
 * @param leaseLive       its lease is current; a host whose lease expired may be down and is never a candidate
 * @param cpus            its logical CPUs (cores VMs may use)
 * @param cpuLoadCores    cores busy on average over the counters' recent window; empty when there are no
 *                        recent samples (placement then counts its committed vCPUs as busy, and says so)
 * @param committedVcpus  vCPUs of the VMs running on it or already placed there
 * @param vms             how many VMs run on it or are placed there (a tie-break)
 * @param memoryBytes     memory VMs may use on it (its memory less what the host keeps for itself)
 * @param committedMemoryBytes memory of the VMs running on it or already placed there
 * @param storageBytes    size of its local storage for VM disks
 * @param storageFreeBytes free space on that local storage
 * @param switches        ids of the virtual switches it has
 * @param sharedStorage   ids of the shared storage (and library shares) it reaches
 */
public record HostFacts(String id, String name, String group, boolean inMaintenance, boolean leaseLive, int cpus,
        OptionalDouble cpuLoadCores, int committedVcpus, int vms, long memoryBytes, long committedMemoryBytes,
        long storageBytes, long storageFreeBytes, Set<String> switches, Set<String> sharedStorage) {

    public HostFacts {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("host id must not be blank");
        }
        name = name == null || name.isBlank() ? id : name;
        group = group == null || group.isBlank() ? "default" : group;
        cpuLoadCores = cpuLoadCores == null ? OptionalDouble.empty() : cpuLoadCores;
        if (cpus < 1) {
            throw new IllegalArgumentException("host '" + id + "': cpus must be 1 or more; was " + cpus);
        }
        if (cpuLoadCores.isPresent() && !(cpuLoadCores.getAsDouble() >= 0 && Double.isFinite(cpuLoadCores.getAsDouble()))) {
            throw new IllegalArgumentException("host '" + id + "': cpuLoadCores must be 0 or more; was "
                    + cpuLoadCores.getAsDouble());
        }
        notNegative(id, "committedVcpus", committedVcpus);
        notNegative(id, "vms", vms);
        notNegative(id, "memoryBytes", memoryBytes);
        notNegative(id, "committedMemoryBytes", committedMemoryBytes);
        notNegative(id, "storageBytes", storageBytes);
        notNegative(id, "storageFreeBytes", storageFreeBytes);
        switches = switches == null ? Set.of() : Set.copyOf(switches);
        sharedStorage = sharedStorage == null ? Set.of() : Set.copyOf(sharedStorage);
    }

    private static void notNegative(String id, String field, long value) {
        if (value < 0) {
            throw new IllegalArgumentException("host '" + id + "': " + field + " must be 0 or more; was " + value);
        }
    }

    /** Memory not yet committed to VMs; 0 when more is committed than the host has. */
    public long freeMemoryBytes() {
        return Math.max(0, memoryBytes - committedMemoryBytes);
    }
}
