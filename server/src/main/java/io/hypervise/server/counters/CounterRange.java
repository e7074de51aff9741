package io.hypervise.server.counters;

import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.config.ServerConfig.Counters.Retention;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * What a metrics request asks for: the window [from, to), the step between points, and the resolution
 * that answers it: the finest one that still holds {@code from} and is not finer than the step.
 */
public record CounterRange(Instant from, Instant to, Duration step, Resolution resolution) {

    /** As many points as Prometheus answers at most: more is not a plot but a download. */
    public static final long MAX_POINTS = 11_000;
    public static final Duration MAX_STEP = Duration.ofDays(31);
    public static final Duration MAX_SPAN = Duration.ofDays(3660);
    /** Without a step, the window is cut into about this many points. */
    static final long DEFAULT_POINTS = 300;
    static final Duration DEFAULT_SPAN = Duration.ofHours(1);

    /**
     * From the raw query parameters, or every rule they break (400).
     *
     * @param period the sampling period: raw samples are no finer than that
     */
    public static CounterRange parse(String fromParam, String toParam, String stepParam, Instant now, Duration period,
            Retention keep) {
        List<FieldError> violations = new ArrayList<>();
        Instant from = QueryParameters.instant("from", fromParam, violations);
        Instant to = QueryParameters.instant("to", toParam, violations);
        Duration step = step(stepParam, violations);
        QueryParameters.check(violations);
        to = to == null ? now : to;
        from = from == null ? to.minus(DEFAULT_SPAN) : from;
        if (!from.isBefore(to)) {
            violations.add(new FieldError("to", "must be later than 'from'"));
        } else if (Duration.between(from, to).compareTo(MAX_SPAN) > 0) {
            violations.add(new FieldError("to", "must be at most " + MAX_SPAN.toDays() + " days after 'from'"));
        }
        QueryParameters.check(violations);
        Duration span = Duration.between(from, to);
        if (step == null) {
            step = Duration.ofSeconds(Math.max(1, ceilDiv(span.toSeconds(), DEFAULT_POINTS)));
        }
        Resolution resolution = resolution(from, step, now, keep);
        // A step finer than what the resolution holds would only make empty buckets: round it up.
        long granularity = Math.max(1, resolution.granularity(period).toSeconds());
        Duration effective = Duration.ofSeconds(ceilDiv(step.toSeconds(), granularity) * granularity);
        if (ceilDiv(span.toSeconds(), effective.toSeconds()) > MAX_POINTS) {
            violations.add(new FieldError("step", "must be at least " + ceilDiv(span.toSeconds(), MAX_POINTS)
                    + " s for this window: at most " + MAX_POINTS + " points; got " + stepParam));
            QueryParameters.check(violations);
        }
        return new CounterRange(from, to, effective, resolution);
    }

    static Resolution resolution(Instant from, Duration step, Instant now, Retention keep) {
        if (step.compareTo(Duration.ofMinutes(1)) < 0 && !from.isBefore(now.minus(keep.samples()))) {
            return Resolution.SAMPLES;
        }
        if (step.compareTo(Duration.ofHours(1)) < 0 && !from.isBefore(now.minus(keep.minutes()))) {
            return Resolution.MINUTES;
        }
        return Resolution.HOURS;
    }

    /** An ISO-8601 duration (PT1M) or a whole number of seconds, from 1 s to 31 days, in whole seconds. */
    static Duration step(String value, List<FieldError> violations) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String rule = "must be a whole number of seconds or an ISO-8601 duration (PT1M), from 1 s to "
                + MAX_STEP.toDays() + " days; got '" + value + "'";
        Duration step;
        try {
            String v = value.trim();
            step = v.chars().allMatch(Character::isDigit) && v.length() <= 10
                    ? Duration.ofSeconds(Long.parseLong(v))
                    : Duration.parse(v);
        } catch (DateTimeParseException | NumberFormatException | ArithmeticException e) {
            violations.add(new FieldError("step", rule));
            return null;
        }
        if (step.compareTo(Duration.ofSeconds(1)) < 0 || step.compareTo(MAX_STEP) > 0 || step.getNano() != 0) {
            violations.add(new FieldError("step", rule));
            return null;
        }
        return step;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
