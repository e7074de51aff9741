package io.hypervise.bench.api;

import java.util.Locale;

/**
 * The table printed at the end: one row per side of a measurement, the ratio API / reference below, and
 * beside each row the cores each party used. "per cpu-s" divides the operations by the CPU time the
 * system under test spent on them (server plus PostgreSQL): on a shared machine it moves less than
 * "per s" when other work takes cores away from one side's rounds.
 */
final class Report {

    private static final String ROW = "  %-44s %7s %6s %7s %9s %8s %8s %8s %8s %6s   %s%n";
    private static final String CORES = "%6s %6s %8s %6s";

    private final StringBuilder out = new StringBuilder();

    void line(String format, Object... args) {
        out.append(String.format(Locale.ROOT, format, args)).append('\n');
    }

    void header() {
        out.append(String.format(Locale.ROOT, ROW, "", "clients", "done", "per s", "per cpu-s", "p50 ms", "p90 ms", "p99 ms",
                "max ms", "errors", "cores: " + String.format(Locale.ROOT, CORES, "client", "server", "postgres", "others")));
    }

    void row(String label, int clients, Measurement m) {
        ClosedLoop.Run r = m.run();
        CpuMeter.Usage u = m.cpu();
        out.append(String.format(Locale.ROOT, ROW, label, clients, r.operations(), f1(r.perSecond()), f1(perCpuSecond(m)),
                f2(r.percentileMillis(0.50)), f2(r.percentileMillis(0.90)), f2(r.percentileMillis(0.99)), f2(r.maxMillis()),
                r.errors(), "       " + String.format(Locale.ROOT, CORES, f2(u.client()), f2(u.server()), f2(u.postgres()),
                        f2(u.others()))));
        if (r.firstError() != null) {
            out.append("      first error: ").append(r.firstError()).append('\n');
        }
    }

    /** API over reference: throughputs (below 1: the API does less) and latencies (above 1: the API is slower). */
    void ratio(String label, Measurement api, Measurement reference) {
        ClosedLoop.Run a = api.run();
        ClosedLoop.Run b = reference.run();
        out.append(String.format(Locale.ROOT, ROW, label, "", "", f3(a.perSecond() / b.perSecond()),
                f3(perCpuSecond(api) / perCpuSecond(reference)), f3(a.percentileMillis(0.50) / b.percentileMillis(0.50)),
                f3(a.percentileMillis(0.90) / b.percentileMillis(0.90)), f3(a.percentileMillis(0.99) / b.percentileMillis(0.99)),
                "", "", ""));
    }

    private static double perCpuSecond(Measurement m) {
        return m.run().operations() / (m.run().seconds() * (m.cpu().server() + m.cpu().postgres()));
    }

    String text() {
        return out.toString();
    }

    private static String f1(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String f2(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String f3(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }

    /**
     * A run with what was measured around it: the CPU use, and for creations the mean number of sessions
     * waiting for the audit lock (NaN where not sampled). Runs of one side add up across rounds.
     */
    record Measurement(ClosedLoop.Run run, CpuMeter.Usage cpu, double lockWaiters) {

        static final Measurement NONE = new Measurement(ClosedLoop.Run.EMPTY, CpuMeter.Usage.NONE, Double.NaN);

        Measurement plus(Measurement other) {
            double a = run.seconds();
            double b = other.run.seconds();
            double waiters = Double.isNaN(lockWaiters) ? other.lockWaiters
                    : Double.isNaN(other.lockWaiters) ? lockWaiters : (lockWaiters * a + other.lockWaiters * b) / (a + b);
            return new Measurement(run.plus(other.run), cpu.mean(other.cpu, a, b), waiters);
        }
    }
}
