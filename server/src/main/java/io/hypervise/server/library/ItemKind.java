package io.hypervise.server.library;

import java.util.Locale;
import java.util.Optional;

/** What a library item is for: an ISO is attached as a CD-ROM, a disk image becomes a VM's disk. */
public enum ItemKind {
    ISO,
    DISK;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<ItemKind> of(String value) {
        for (ItemKind k : values()) {
            if (k.id().equalsIgnoreCase(value)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }
}
