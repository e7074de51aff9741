package io.hypervise.server.api;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Base of the server's own refusals: each kind carries the HTTP status it answers with and what the
 * problem document says beyond it, so {@link ProblemMapping} turns every one into a response the same way.
 */
public abstract class RequestRefusedException extends RuntimeException {

    private final int status;

    protected RequestRefusedException(int status, String message) {
        super(message);
        this.status = status;
    }

    protected RequestRefusedException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    public final int status() {
        return status;
    }

    /** The problem's {@code detail}, written for whoever has to act on it; the message unless a kind says more. */
    public String detail() {
        return getMessage();
    }

    /** Members beyond RFC 9457's own, such as {@code violations} or {@code reasons}. */
    public Map<String, ?> extensions() {
        return Map.of();
    }

    /** How long a client should wait before sending the same request again, where waiting helps at all. */
    public Optional<Duration> retryAfter() {
        return Optional.empty();
    }
}
