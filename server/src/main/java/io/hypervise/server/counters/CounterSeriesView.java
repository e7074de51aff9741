package io.hypervise.server.counters;

import java.time.Instant;
import java.util.List;

/**
 * A VM's or host's counters over a window, as the API answers: one series per counter, each a list of
 * buckets with the minimum, mean and maximum of what was sampled in it.
 *
 * @param step        the step between points, ISO-8601 (the one asked for, rounded up to what the
 *                    resolution holds)
 * @param resolution  where the points come from: {@code sample}, {@code minute} or {@code hour}
 * @param unavailable counters that exist in the VM's definition but cannot be measured, and why
 */
public record CounterSeriesView(String kind, String id, Instant from, Instant to, String step, String resolution,
        List<Series> series, List<Unavailable> unavailable) {

    public record Series(String name, String unit, List<Point> points) {
    }

    public record Point(Instant at, double min, double avg, double max) {
    }

    public record Unavailable(String name, String reason) {
    }

    /** What a series' values are in, from its name. */
    static String unit(String name) {
        if (name.equals("cpu") || name.startsWith("vcpu.")) {
            return "cores";
        }
        if (name.endsWith("-bytes")) {
            return "bytes/s";
        }
        if (name.endsWith("-ops")) {
            return "operations/s";
        }
        if (name.endsWith("-packets")) {
            return "packets/s";
        }
        if (name.startsWith("load.")) {
            return "processes";
        }
        return "bytes";
    }
}
