package io.hypervise.server.library;

import java.time.Instant;

/**
 * An upload under way, as the API shows it: how much has arrived ({@code offset} of {@code length}),
 * the item it will become, and once all has arrived, the job importing it.
 */
public record UploadView(String id, String itemId, String name, String kind, String owner, long offset, long length,
        String state, String jobId, Instant createdAt, Instant expiresAt) {
}
