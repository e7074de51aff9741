package io.hypervise.server.ui;

import io.hypervise.server.counters.RecentSamples;
import java.util.Locale;
import java.util.Optional;

/**
 * What a running VM uses now, for the lists: CPU as a share of its vCPUs, the worker's resident memory,
 * and the last few minutes of CPU as the points of a small SVG line ({@link #WIDTH} × {@link #HEIGHT}).
 */
public record Utilization(int cpuPercent, long residentBytes, String sparkline) {

    public static final int WIDTH = 64;
    public static final int HEIGHT = 18;

    static Optional<Utilization> of(Optional<RecentSamples.Recent> recent, int vcpus) {
        return recent.map(r -> new Utilization(percent(r.cpuNow(), vcpus), r.residentBytes(), points(r.cpuCores(), vcpus)));
    }

    /** A share of the VM's vCPUs, 0 to 100: QEMU's own threads can add a little over the vCPUs' time. */
    private static int percent(double cores, int vcpus) {
        return (int) Math.round(Math.min(100, Math.max(0, cores / Math.max(1, vcpus) * 100)));
    }

    private static String points(double[] cores, int vcpus) {
        StringBuilder points = new StringBuilder();
        double dx = cores.length < 2 ? 0 : (double) WIDTH / (cores.length - 1);
        for (int i = 0; i < cores.length; i++) {
            double y = HEIGHT - 1 - percent(cores[i], vcpus) / 100.0 * (HEIGHT - 2);
            points.append(points.isEmpty() ? "" : " ").append(String.format(Locale.ROOT, "%.1f,%.1f", i * dx, y));
        }
        return points.toString();
    }
}
