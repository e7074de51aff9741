package io.hypervise.server.placement;

import java.time.Instant;
import java.util.Locale;

/**
 * The administrators' placement settings, as stored (V25) and shown by the API: the goal and the weights every
 * server rates hosts with.
 *
 * @param goal      {@code balance} or {@code consolidate}
 * @param updatedAt when they were last changed; updatedBy by whom (null: never changed since installation)
 */
public record PlacementSettings(String goal, Weights weights, Instant updatedAt, String updatedBy) {

    static PlacementSettings of(Goal goal, Weights weights, Instant updatedAt, String updatedBy) {
        return new PlacementSettings(goal.name().toLowerCase(Locale.ROOT), weights, updatedAt, updatedBy);
    }

    Goal goalValue() {
        return Goal.valueOf(goal.toUpperCase(Locale.ROOT));
    }

    /** What an administrator sends to change them: the goal and all three weights. */
    public record Change(String goal, WeightsChange weights) {
    }

    /** Each weight from 0 to 100, at least one above 0. */
    public record WeightsChange(Double cpu, Double memory, Double storage) {
    }
}
