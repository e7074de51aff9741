package io.hypervise.server.audit;

/** How an audited request ended; the names are what {@code audit_log.outcome} stores. */
public enum AuditOutcome {
    SUCCEEDED,
    FAILED,
    DENIED
}
