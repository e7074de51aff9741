package io.hypervise.engine.network;

import java.util.Locale;
import java.util.Optional;

/** What a virtual switch connects its VMs to, as Hyper-V names the kinds. */
public enum SwitchKind {
    /** The VMs on the switch reach each other and nothing else, not even the host. */
    PRIVATE,
    /** The VMs reach each other and the host, through the host's own address on the switch. */
    INTERNAL;

    /** The lower-case name used in the API and in the bridge's alias. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<SwitchKind> of(String label) {
        for (SwitchKind k : values()) {
            if (k.label().equals(label)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }
}
