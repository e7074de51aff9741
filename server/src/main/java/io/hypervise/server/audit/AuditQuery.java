package io.hypervise.server.audit;

import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.QueryParameters;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What an auditor asks the log for: exact actor and target, an action prefix, an outcome, a time
 * window [from, to), and a page of the newest-first result (pages count from 0).
 */
public record AuditQuery(String actor, String actionPrefix, String target, AuditOutcome outcome, Instant from,
        Instant to, int page, int size) {

    /** A query from the raw query parameters, or every rule they break. */
    public static AuditQuery parse(String actor, String action, String target, String outcome, String from, String to,
            String page, String size) throws InvalidRequestException {
        List<FieldError> violations = new ArrayList<>();
        AuditOutcome parsedOutcome = outcome(outcome, violations);
        Instant parsedFrom = QueryParameters.instant("from", from, violations);
        Instant parsedTo = QueryParameters.instant("to", to, violations);
        int parsedPage = QueryParameters.page(page, violations);
        int parsedSize = QueryParameters.size(size, violations);
        QueryParameters.text("actor", actor, AuditLog.MAX_ACTOR, violations);
        QueryParameters.text("action", action, 100, violations);
        QueryParameters.text("target", target, AuditLog.MAX_TARGET, violations);
        if (parsedFrom != null && parsedTo != null && !parsedFrom.isBefore(parsedTo)) {
            violations.add(new FieldError("to", "must be later than 'from'"));
        }
        QueryParameters.check(violations);
        return new AuditQuery(blankToNull(actor), blankToNull(action), blankToNull(target), parsedOutcome,
                parsedFrom, parsedTo, parsedPage, parsedSize);
    }

    private static AuditOutcome outcome(String value, List<FieldError> violations) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return AuditOutcome.valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            violations.add(new FieldError("outcome", "must be one of " + java.util.Arrays.toString(AuditOutcome.values()) + "; got '" + value + "'"));
            return null;
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
