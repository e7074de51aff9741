package io.hypervise.server.audit;

import io.hypervise.engine.vm.Violation;
import java.util.List;
import java.util.stream.Collectors;

/** Query parameters of {@code GET /api/v1/audit} that break their rules; a 400 naming each. */
public class InvalidAuditQueryException extends RuntimeException {

    private final transient List<Violation> violations;

    public InvalidAuditQueryException(List<Violation> violations) {
        super("invalid audit query: " + violations.stream().map(Violation::toString).collect(Collectors.joining("; ")));
        this.violations = List.copyOf(violations);
    }

    public List<Violation> violations() {
        return violations;
    }
}
