package io.hypervise.server.counters;

import io.hypervise.server.counters.CounterStore.Point;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Collects points by series. A VM whose devices changed has rows of two layouts in one bucket; the same
 * series from both is merged into one point (mean weighted by the samples each stands for).
 */
final class SeriesBuilder {

    private final Map<String, TreeMap<Instant, Point>> series = new LinkedHashMap<>();

    void add(String name, Point p) {
        series.computeIfAbsent(name, n -> new TreeMap<>()).merge(p.at(), p, SeriesBuilder::merge);
    }

    private static Point merge(Point a, Point b) {
        long n = a.samples() + b.samples();
        double avg = n == 0 ? (a.avg() + b.avg()) / 2 : (a.avg() * a.samples() + b.avg() * b.samples()) / n;
        return new Point(a.at(), Math.min(a.min(), b.min()), avg, Math.max(a.max(), b.max()), n);
    }

    Map<String, List<Point>> build() {
        Map<String, List<Point>> out = new LinkedHashMap<>();
        series.forEach((name, points) -> out.put(name, new ArrayList<>(points.values())));
        return out;
    }
}
