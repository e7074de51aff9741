package io.hypervise.engine.vm.definition;

import io.hypervise.engine.EngineException;
import java.util.List;
import java.util.stream.Collectors;

/** A VM definition broke one or more rules; each violation names its field. */
public final class InvalidVmDefinitionException extends EngineException {

    private final transient List<Violation> violations;

    public InvalidVmDefinitionException(List<Violation> violations) {
        super("invalid VM definition: "
                + violations.stream().map(Violation::toString).collect(Collectors.joining("; ")));
        this.violations = List.copyOf(violations);
    }

    public List<Violation> violations() {
        return violations;
    }
}
