package io.hypervise.server.library;

import java.util.Locale;
import java.util.Optional;

/**
 * Who may see and use a library item besides its owner and those who read the whole library
 * (administrators, operators, auditors): everyone signed in, members of the item's groups, or nobody else.
 */
public enum Visibility {
    EVERYONE,
    GROUPS,
    ADMINS;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Visibility> of(String value) {
        for (Visibility v : values()) {
            if (v.id().equalsIgnoreCase(value)) {
                return Optional.of(v);
            }
        }
        return Optional.empty();
    }
}
