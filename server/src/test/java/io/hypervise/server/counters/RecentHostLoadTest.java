package io.hypervise.server.counters;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.counters.HostSample;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The host's CPU load that placement publishes: the average of the counters' samples in the recent window. */
class RecentHostLoadTest {

    private static final Instant T0 = Instant.parse("2026-12-07T10:00:00Z");

    @Test
    void theLoadIsTheAverageOfTheSamplesInTheWindowAndNoneWithoutSamples() {
        RecentSamples recent = new RecentSamples();
        assertThat(recent.hostCpuCores(T0)).isEmpty();
        recent.onHost(sample(T0, 4.0));
        recent.onHost(sample(T0.plusSeconds(5), 1.0));
        recent.onHost(sample(T0.plusSeconds(10), 2.0));
        assertThat(recent.hostCpuCores(T0).getAsDouble()).isEqualTo(7.0 / 3);
        assertThat(recent.hostCpuCores(T0.plusSeconds(5)).getAsDouble()).as("the older sample left out").isEqualTo(1.5);
        assertThat(recent.hostCpuCores(T0.plusSeconds(11))).as("nothing sampled lately").isEmpty();
    }

    @Test
    void onlyTheLastFewMinutesAreKept() {
        RecentSamples recent = new RecentSamples();
        for (int i = 0; i < RecentSamples.KEPT + 10; i++) {
            recent.onHost(sample(T0.plusSeconds(5L * i), i < 10 ? 100 : 1));
        }
        assertThat(recent.hostCpuCores(T0).getAsDouble()).as("the oldest ten, at 100 cores, are gone").isEqualTo(1.0);
    }

    private static HostSample sample(Instant at, double cores) {
        return new HostSample(at, Duration.ofSeconds(5), 128, cores, 8L << 30, 2L << 30, 0, 0, 0, 1L << 30, 2L << 30);
    }
}
