package io.hypervise.server.audit;

import io.hypervise.server.api.RequestRefusedException;
import java.time.Duration;
import java.util.Optional;

/**
 * The audit log could not be written; whatever was to be recorded must not happen without it. The
 * request is refused before anything was done (an action's intent is recorded before it is carried
 * out), so the client may try again once the log is back: a 503 with Retry-After.
 */
public class AuditLogException extends RequestRefusedException {

    public AuditLogException(String message, Throwable cause) {
        super(503, message, cause);
    }

    @Override
    public String detail() {
        return "the audit log cannot record this request now, so nothing was done: " + getMessage();
    }

    @Override
    public Optional<Duration> retryAfter() {
        return Optional.of(Duration.ofSeconds(30));
    }
}
