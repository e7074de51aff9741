package io.hypervise.server.audit;

/**
 * How an audited request ended, or that it is about to be carried out; the names are what
 * {@code audit_log.outcome} stores. An action on a VM is recorded twice: {@link #REQUESTED} before the
 * engine is asked (nothing is done unless that entry is durable), then how it ended.
 */
public enum AuditOutcome {
    REQUESTED,
    SUCCEEDED,
    FAILED,
    DENIED
}
