package io.hypervise.server.api;

import io.hypervise.engine.vm.definition.Violation;
import java.util.List;
import java.util.stream.Collectors;

/** A request whose fields or parameters break their rules; a 400 naming each. */
public class InvalidRequestException extends RuntimeException {

    private final transient List<Violation> violations;

    /** @param subject what is invalid, e.g. "query parameters" or "policy" */
    public InvalidRequestException(String subject, List<Violation> violations) {
        super("invalid " + subject + ": " + violations.stream().map(Violation::toString).collect(Collectors.joining("; ")));
        this.violations = List.copyOf(violations);
    }

    public List<Violation> violations() {
        return violations;
    }
}
