package io.hypervise.server.library;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A library item as the API shows it. {@code format} is what VMs open it as, {@code sourceFormat} what
 * it came as; {@code uses} how many disks and CD-ROMs use it, and {@code usedBy} which (a single item's
 * view only; null in lists).
 */
public record LibraryItemView(
        String id,
        String name,
        String description,
        String kind,
        String format,
        String sourceFormat,
        long virtualBytes,
        long actualBytes,
        String sha256,
        String owner,
        String visibility,
        List<String> groups,
        String host,
        Instant createdAt,
        long uses,
        List<UsedBy> usedBy) {

    /** A VM that uses the item, and how. */
    public record UsedBy(String vmId, String vmName, String as) {
    }

    static LibraryItemView of(LibraryItemEntity item, long uses, List<UsedBy> usedBy) {
        return new LibraryItemView(item.id, item.name, item.description, item.kind.id(),
                item.format.name().toLowerCase(Locale.ROOT), item.sourceFormat.id(), item.virtualBytes, item.actualBytes,
                item.sha256, item.owner, item.visibility.id(), Arrays.asList(item.groups), item.hostId, item.createdAt,
                uses, usedBy);
    }
}
