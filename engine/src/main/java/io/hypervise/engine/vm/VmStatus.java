package io.hypervise.engine.vm;

import java.time.Instant;
import java.util.OptionalLong;

/**
 * A VM as the engine sees it right now: its definition, state, why it is in that state and since
 * when, and its worker's PID while one exists.
 */
public record VmStatus(VmDefinition definition, VmState state, String reason, Instant since, OptionalLong workerPid) {

    public String id() {
        return definition.id();
    }

    public String name() {
        return definition.name();
    }
}
