package io.hypervise.engine.vm.definition;

import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * How much of the host a VM may take, and how much it is promised. Every field is optional: absent means
 * "as any other VM" (no cap, the default weight, no reservation, the balloon left alone, no I/O limit).
 *
 * @param cpuWeight            its share of contended CPU time against other VMs, 1 to 10000 (default 100): a VM
 *                             of weight 200 gets twice the CPU of one of weight 100 when both want more than
 *                             there is (the worker's cgroup: cpu.weight, or cpu.shares on cgroup v1)
 * @param cpuCapPercent        the most CPU it may use, in percent of its vCPUs (100: all of them, all the
 *                             time), enforced on the whole worker (its cgroup's quota), whatever the host has free
 * @param memoryReservationMib memory the host keeps for it when memory is short (cgroup v2 memory.low)
 * @param balloonTargetMib     the memory the guest is asked to keep (virtio balloon; enlightened VMs): less than
 *                             its memory hands the rest back to the host while it runs
 * @param diskBytesPerSecond   the most its disks together may read and write, in bytes per second (QEMU throttle group)
 * @param diskIops             the most read and write operations per second its disks together may do
 * @param networkReceiveBitsPerSecond  the most each of its adapters on a virtual switch may receive, in bits per
 *                             second (as links and network tools count), queued and then dropped beyond it (a token
 *                             bucket on the switch port); adapters on the isolated network are not limited
 * @param networkTransmitBitsPerSecond the most each of its adapters on a virtual switch may send, in bits per second,
 *                             dropped beyond it (a policer on the switch port), where the host's kernel can police
 */
public record Resources(
        Integer cpuWeight,
        Integer cpuCapPercent,
        Integer memoryReservationMib,
        Integer balloonTargetMib,
        Long diskBytesPerSecond,
        Integer diskIops,
        Long networkReceiveBitsPerSecond,
        Long networkTransmitBitsPerSecond) {

    /** No limits, no promises: what every VM had before it could be given any. */
    public static final Resources NONE = new Resources(null, null, null, null, null, null, null, null);

    /** Controls without network limits. */
    public Resources(Integer cpuWeight, Integer cpuCapPercent, Integer memoryReservationMib, Integer balloonTargetMib,
            Long diskBytesPerSecond, Integer diskIops) {
        this(cpuWeight, cpuCapPercent, memoryReservationMib, balloonTargetMib, diskBytesPerSecond, diskIops, null, null);
    }

    public static final int DEFAULT_CPU_WEIGHT = 100;
    public static final int MAX_CPU_WEIGHT = 10_000;

    @JsonIgnore
    public boolean controlsCpu() {
        return cpuWeight != null || cpuCapPercent != null;
    }

    @JsonIgnore
    public boolean limitsDisks() {
        return diskBytesPerSecond != null || diskIops != null;
    }

    @JsonIgnore
    public boolean limitsNetwork() {
        return networkReceiveBitsPerSecond != null || networkTransmitBitsPerSecond != null;
    }

    @JsonIgnore
    public boolean isNone() {
        return equals(NONE);
    }
}
