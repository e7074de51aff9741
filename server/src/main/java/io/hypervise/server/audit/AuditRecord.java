package io.hypervise.server.audit;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;

/**
 * One audit entry as it is chained: who did what to what, from where, with which outcome and why.
 * Times are kept to the microsecond, as PostgreSQL stores them, so that a stored entry hashes the same.
 */
public record AuditRecord(
        long id,
        Instant at,
        String actor,
        List<String> roles,
        String sourceAddress,
        String action,
        String target,
        JsonNode parameters,
        String outcome,
        String reason) {
}
