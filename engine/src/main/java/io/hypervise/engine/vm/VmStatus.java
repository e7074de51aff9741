package io.hypervise.engine.vm;

import io.hypervise.engine.vm.definition.VmDefinition;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A VM as the engine sees it right now: its definition, state, why it is in that state and since
 * when, its worker's PID while one exists, and whether that worker has stopped answering.
 */
public record VmStatus(VmDefinition definition, VmState state, String reason, Instant since, OptionalLong workerPid,
        Optional<Unresponsive> unresponsive) {

    public String id() {
        return definition.id();
    }

    public String name() {
        return definition.name();
    }
}
