package io.hypervise.engine.counters;

import io.hypervise.engine.vm.definition.Nic;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.SequencedMap;

/**
 * One VM's utilization over one sampling interval.
 *
 * @param cpuCores  CPU used by the whole worker process (every thread: vCPUs, I/O, QEMU's own), in cores
 * @param vcpuCores CPU used by each vCPU's thread, by vCPU index, in cores
 * @param residentBytes the worker's resident set (what the VM costs the host in RAM now)
 * @param guestMemory the guest's own view, from the virtio balloon's statistics, where the guest reports them
 * @param disks per disk, by the engine's node name ({@code disk0} is the definition's first disk)
 * @param nics  per network adapter; their counters may be unavailable (see {@link NicSample})
 */
public record VmSample(String vmId, Instant at, Duration interval, double cpuCores, List<Double> vcpuCores,
        long residentBytes, Optional<GuestMemory> guestMemory, List<DiskSample> disks, List<NicSample> nics)
        implements Sample {

    /** The guest's memory as its own kernel counts it (MemTotal, MemAvailable). */
    public record GuestMemory(long totalBytes, long availableBytes) {
    }

    /** Bytes and operations per second on one disk, from QMP {@code query-blockstats}. */
    public record DiskSample(String disk, double readBytes, double writeBytes, double readOps, double writeOps) {
    }

    /**
     * One network adapter: bytes and packets per second as the guest sees them (received, transmitted),
     * where the adapter is plugged into a virtual switch, whose port the kernel counts; otherwise why not.
     */
    public record NicSample(String nic, String mac, Optional<Rates> rates, Optional<String> unavailable) {

        /** Why an adapter not on a switch has no counters: said instead of zeros that would look measured. */
        public static final String USER_NETWORKING = "not connected to a virtual switch: QEMU's isolated user-mode"
                + " network keeps no byte or packet counters that QMP can read (QEMU 7.2); connect the adapter to a"
                + " switch to count its traffic";
        /** An adapter on a switch whose port was not there when it was read. */
        public static final String NO_PORT = "its switch port was not there when the counters were read";

        /** Why an adapter's traffic is never counted; empty for one on a switch, whose port the kernel counts. */
        public static Optional<String> uncounted(Nic nic) {
            return nic.onSwitch() ? Optional.empty() : Optional.of(USER_NETWORKING);
        }

        public record Rates(double receiveBytes, double transmitBytes, double receivePackets, double transmitPackets) {
        }
    }

    @Override
    public SequencedMap<String, Double> series() {
        SequencedMap<String, Double> series = new LinkedHashMap<>();
        series.put("cpu", cpuCores);
        for (int i = 0; i < vcpuCores.size(); i++) {
            series.put("vcpu." + i, vcpuCores.get(i));
        }
        series.put("memory.resident", (double) residentBytes);
        guestMemory.ifPresent(g -> {
            series.put("memory.guest.total", (double) g.totalBytes());
            series.put("memory.guest.available", (double) g.availableBytes());
        });
        for (DiskSample d : disks) {
            String p = "disk." + d.disk() + ".";
            series.put(p + "read-bytes", d.readBytes());
            series.put(p + "write-bytes", d.writeBytes());
            series.put(p + "read-ops", d.readOps());
            series.put(p + "write-ops", d.writeOps());
        }
        for (NicSample n : nics) {
            n.rates().ifPresent(r -> {
                String p = "nic." + n.nic() + ".";
                series.put(p + "receive-bytes", r.receiveBytes());
                series.put(p + "transmit-bytes", r.transmitBytes());
                series.put(p + "receive-packets", r.receivePackets());
                series.put(p + "transmit-packets", r.transmitPackets());
            });
        }
        return series;
    }
}
