package io.hypervise.engine.counters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The host's CPU time so far, from the first line of /proc/stat, in clock ticks: all of it, and the part
 * spent idle or waiting for I/O. Two readings give how many cores were busy in between.
 */
record HostCpuTimes(long nanoTime, long totalTicks, long idleTicks) {

    static Optional<HostCpuTimes> read(Path procStat) {
        try (var lines = Files.lines(procStat, StandardCharsets.US_ASCII)) {
            return lines.findFirst().map(line -> parse(line, System.nanoTime()));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already in user. */
    static HostCpuTimes parse(String cpuLine, long nanoTime) {
        String[] f = cpuLine.trim().split("\\s+");
        long total = 0;
        for (int i = 1; i < Math.min(f.length, 9); i++) {
            total += Long.parseLong(f[i]);
        }
        return new HostCpuTimes(nanoTime, total, Long.parseLong(f[4]) + Long.parseLong(f[5]));
    }

    /** Cores busy between {@code before} and this reading, out of {@code cpus}. */
    double busyCoresSince(HostCpuTimes before, int cpus) {
        long total = totalTicks - before.totalTicks;
        long idle = idleTicks - before.idleTicks;
        return total <= 0 ? 0 : cpus * (double) Math.max(0, total - idle) / total;
    }
}
