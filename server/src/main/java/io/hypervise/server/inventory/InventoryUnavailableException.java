package io.hypervise.server.inventory;

import io.hypervise.server.api.RequestRefusedException;
import java.time.Duration;
import java.util.Optional;

/** The inventory (PostgreSQL) cannot be read now: a 503 with Retry-After, the reason in the detail. */
public class InventoryUnavailableException extends RequestRefusedException {

    public InventoryUnavailableException(String message, Throwable cause) {
        super(503, message, cause);
    }

    @Override
    public Optional<Duration> retryAfter() {
        return Optional.of(Duration.ofSeconds(5));
    }
}
