package io.hypervise.server.api;

import io.hypervise.engine.vm.Violation;
import java.util.List;
import java.util.stream.Collectors;

/** Query parameters that break their rules; a 400 naming each. */
public class InvalidQueryException extends RuntimeException {

    private final transient List<Violation> violations;

    public InvalidQueryException(List<Violation> violations) {
        super("invalid query parameters: " + violations.stream().map(Violation::toString).collect(Collectors.joining("; ")));
        this.violations = List.copyOf(violations);
    }

    public List<Violation> violations() {
        return violations;
    }
}
