package io.hypervise.server.api;

import io.hypervise.server.api.FieldError;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** A request whose fields or parameters break their rules; a 400 naming each. */
public class InvalidRequestException extends RequestRefusedException {

    private final transient List<FieldError> violations;

    /** @param subject what is invalid, e.g. "query parameters" or "policy" */
    public InvalidRequestException(String subject, List<FieldError> violations) {
        super(400, "invalid " + subject + ": "
                + violations.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
        this.violations = List.copyOf(violations);
    }

    public List<FieldError> violations() {
        return violations;
    }

    @Override
    public Map<String, ?> extensions() {
        return violations.isEmpty() ? Map.of() : Map.of("violations", violations);
    }
}
