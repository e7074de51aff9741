package io.hypervise.server.counters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.config.ServerConfig;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** How a metrics request's window and step pick a resolution, and which ones are refused. */
class CounterRangeTest {

    private static final Instant NOW = Instant.parse("2026-11-29T12:00:00Z");
    private static final Duration PERIOD = Duration.ofSeconds(5);
    private static final ServerConfig.Counters.Retention KEEP = new ServerConfig.Counters.Retention() {
        public Duration samples() {
            return Duration.ofHours(24);
        }

        public Duration minutes() {
            return Duration.ofDays(7);
        }

        public Duration hours() {
            return Duration.ofDays(400);
        }
    };

    private static CounterRange parse(String from, String to, String step) {
        return CounterRange.parse(from, to, step, NOW, PERIOD, KEEP);
    }

    @Test
    void withoutParametersItIsTheLastHourInAboutThreeHundredRawPoints() {
        CounterRange r = parse(null, null, null);
        assertThat(r.from()).isEqualTo(NOW.minusSeconds(3600));
        assertThat(r.to()).isEqualTo(NOW);
        assertThat(r.step()).isEqualTo(Duration.ofSeconds(15));
        assertThat(r.resolution()).isEqualTo(Resolution.SAMPLES);
    }

    @Test
    void theFinestResolutionThatStillHoldsTheStartAndIsNoFinerThanTheStepAnswers() {
        assertThat(parse("2026-11-29T11:00:00Z", null, "1").resolution()).isEqualTo(Resolution.SAMPLES);
        assertThat(parse("2026-11-29T11:00:00Z", null, "1").step()).as("no finer than the period").isEqualTo(PERIOD);
        assertThat(parse("2026-11-29T11:00:00Z", null, "PT1M").resolution()).isEqualTo(Resolution.MINUTES);
        assertThat(parse("2026-11-27T11:00:00Z", null, "10").resolution()).as("raw samples are gone")
                .isEqualTo(Resolution.MINUTES);
        assertThat(parse("2026-11-27T11:00:00Z", null, "10").step()).isEqualTo(Duration.ofMinutes(1));
        assertThat(parse("2026-11-01T00:00:00Z", null, "PT5M").resolution()).isEqualTo(Resolution.HOURS);
        assertThat(parse("2026-11-29T11:00:00Z", null, "PT2H").resolution()).isEqualTo(Resolution.HOURS);
        assertThat(parse("2026-11-29T11:00:00Z", null, "PT90M").step()).as("a whole number of hours")
                .isEqualTo(Duration.ofHours(2));
    }

    @Test
    void badWindowsAndStepsAreRefusedNamingTheParameterAndItsRule() {
        assertRefused("yesterday", null, null, "from", "must be an ISO-8601 date-time");
        assertRefused(null, "2026-11-29T12:00:00", null, "to", "must be an ISO-8601 date-time");
        assertRefused("2026-11-29T12:00:00Z", "2026-11-29T11:00:00Z", null, "to", "must be later than 'from'");
        assertRefused("2000-01-01T00:00:00Z", null, null, "to", "must be at most 3660 days after 'from'");
        assertRefused(null, null, "0", "step", "from 1 s to 31 days");
        assertRefused(null, null, "PT0.5S", "step", "from 1 s to 31 days");
        assertRefused(null, null, "P40D", "step", "from 1 s to 31 days");
        assertRefused(null, null, "five", "step", "must be a whole number of seconds or an ISO-8601 duration");
        assertRefused(null, null, "9".repeat(30), "step", "must be a whole number of seconds");
        assertRefused("2020-01-01T00:00:00Z", null, "1", "step", "at most 11000 points");
        assertRefused("2026-11-28T13:00:00Z", null, "1", "step", "must be at least 8 s for this window");
    }

    private static void assertRefused(String from, String to, String step, String field, String rule) {
        assertThatThrownBy(() -> parse(from, to, step)).isInstanceOfSatisfying(InvalidRequestException.class,
                e -> assertThat(e.violations()).anySatisfy(v -> {
                    assertThat(v.field()).isEqualTo(field);
                    assertThat(v.message()).contains(rule);
                }));
    }
}
