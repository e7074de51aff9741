package io.hypervise.engine.host;

/**
 * How busy the host is right now: load averages, memory, and free space under the storage root.
 *
 * @param memoryAvailableBytes what the kernel says can be given to new work without swapping
 */
public record HostLoad(double load1, double load5, double load15, long memoryTotalBytes, long memoryAvailableBytes,
        long storageFreeBytes, long storageTotalBytes) {
}
