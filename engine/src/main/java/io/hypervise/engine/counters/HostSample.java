package io.hypervise.engine.counters;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.SequencedMap;

/**
 * The host's utilization over one sampling interval.
 *
 * @param cpuCores cores kept busy (not idle, not waiting for I/O), out of {@code cpus}
 * @param memoryUsedBytes what is not available to new work: MemTotal minus MemAvailable
 * @param storageFreeBytes usable space on the file system of the storage root
 */
public record HostSample(Instant at, Duration interval, int cpus, double cpuCores, long memoryTotalBytes,
        long memoryUsedBytes, double load1, double load5, double load15, long storageFreeBytes,
        long storageTotalBytes) implements Sample {

    @Override
    public SequencedMap<String, Double> series() {
        SequencedMap<String, Double> series = new LinkedHashMap<>();
        series.put("cpu", cpuCores);
        series.put("memory.used", (double) memoryUsedBytes);
        series.put("memory.total", (double) memoryTotalBytes);
        series.put("load.1", load1);
        series.put("load.5", load5);
        series.put("load.15", load15);
        series.put("storage.free", (double) storageFreeBytes);
        series.put("storage.total", (double) storageTotalBytes);
        return series;
    }
}
