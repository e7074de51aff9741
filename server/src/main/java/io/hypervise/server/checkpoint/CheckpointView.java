package io.hypervise.server.checkpoint;

import java.time.Instant;
import java.util.Locale;

/**
 * A checkpoint as the API shows it: {@code parent} makes the tree, {@code current} marks the one the VM's
 * present state descends from, {@code pending} is "taking" or "deleting" while that is under way.
 */
public record CheckpointView(String id, String vm, String parent, String name, boolean memory, long sizeBytes,
        Instant createdAt, String createdBy, boolean current, String pending) {

    static CheckpointView of(CheckpointEntity c, String currentId) {
        return new CheckpointView(c.id, c.vmId, c.parentId, c.name, c.memory, c.sizeBytes, c.createdAt, c.createdBy,
                c.id.equals(currentId), c.pending == null ? null : c.pending.name().toLowerCase(Locale.ROOT));
    }
}
