package io.hypervise.engine.host;

import java.util.Locale;

/** What the operator asked for: let the engine decide, or force one accelerator. */
public enum AcceleratorChoice {
    AUTO,
    KVM,
    TCG;

    public static AcceleratorChoice parse(String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "accelerator must be one of auto, kvm, tcg; got '" + value + "'", e);
        }
    }
}
