package io.hypervise.server.placement;

import java.time.Instant;
import java.util.List;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * A host as placement sees it: what it has, what is committed to the VMs placed on it, its recent load, and
 * when its server last published its facts.
 *
 * @param live               its lease is current, by the database's clock
 * @param cpuLoadCores       cores busy on average lately; null when its server had no recent samples
 * @param factsPublishedAt   when its server last published memory, storage and load; null: never (its memory
 *                           then counts as the whole host's, its storage as none)
 */
public record HostCapacity(String id, String name, String group, boolean maintenance, boolean live, int cpus,
        Double cpuLoadCores, int committedVcpus, int vms, long memoryBytes, long committedMemoryBytes,
        long storageBytes, long storageFreeBytes, List<String> switches, Instant factsPublishedAt) {

    HostFacts facts() {
        return new HostFacts(id, name, group, maintenance, live, cpus,
                cpuLoadCores == null ? OptionalDouble.empty() : OptionalDouble.of(cpuLoadCores), committedVcpus, vms,
                memoryBytes, committedMemoryBytes, storageBytes, storageFreeBytes, Set.copyOf(switches), Set.of());
    }

    /** Share of its memory committed to VMs, 0 to 100 (more when overcommitted). */
    public long memoryPercent() {
        return memoryBytes == 0 ? 0 : Math.round(100.0 * committedMemoryBytes / memoryBytes);
    }

    /** Share of its local storage in use, 0 to 100. */
    public long storagePercent() {
        return storageBytes == 0 ? 0 : Math.round(100.0 * (storageBytes - storageFreeBytes) / storageBytes);
    }
}
