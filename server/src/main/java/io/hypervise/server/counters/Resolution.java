package io.hypervise.server.counters;

import java.time.Duration;

/** Where counters are kept, finest first: raw samples, one-minute and one-hour rollups. */
public enum Resolution {
    SAMPLES("counter_samples", "sample"),
    MINUTES("counter_minutes", "minute"),
    HOURS("counter_hours", "hour");

    final String table;
    /** The name the API answers with and counter_rollups knows the rollups by. */
    final String label;

    Resolution(String table, String label) {
        this.table = table;
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The bucket a point of this resolution stands for; for samples, the sampling period. */
    Duration granularity(Duration period) {
        return switch (this) {
            case SAMPLES -> period;
            case MINUTES -> Duration.ofMinutes(1);
            case HOURS -> Duration.ofHours(1);
        };
    }
}
