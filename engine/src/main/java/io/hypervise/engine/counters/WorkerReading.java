package io.hypervise.engine.counters;

import io.hypervise.engine.network.PortCounters;
import io.hypervise.engine.qmp.QemuMonitor.BlockStats;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One worker's cumulative counters at one moment; two readings of the same worker make a sample.
 *
 * @param nanoTime when it was read, on the monotonic clock
 * @param processTicks CPU time of the whole process so far, in clock ticks
 * @param vcpuTicks CPU time of each vCPU's thread so far, by vCPU index
 * @param disks cumulative block statistics by node name
 * @param nics cumulative traffic of each adapter's switch port, by position; empty for an adapter that
 *     has no port (not on a switch, or its port is gone)
 */
record WorkerReading(long nanoTime, long processTicks, List<Long> vcpuTicks, long residentBytes,
        Optional<VmSample.GuestMemory> guestMemory, Map<String, BlockStats> disks, List<Optional<PortCounters>> nics) {
}
