package io.hypervise.server.audit;

/** The audit log could not be written; whatever was to be recorded must not happen without it. */
public class AuditLogException extends RuntimeException {

    public AuditLogException(String message, Throwable cause) {
        super(message, cause);
    }
}
