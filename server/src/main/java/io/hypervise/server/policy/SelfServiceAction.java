package io.hypervise.server.policy;

import java.util.Arrays;
import java.util.Optional;

/**
 * What a policy can allow a self-service user to do with their VMs. Each {@code VmOperation} names the
 * one that governs it: resume is part of pause, discarding a saved state part of save, and a restart (a
 * hard reset) part of turn-off.
 */
public enum SelfServiceAction {
    START("start"),
    SHUT_DOWN("shut-down"),
    TURN_OFF("turn-off"),
    PAUSE("pause"),
    SAVE("save"),
    CONSOLE("console"),
    CONSOLE_VIEW_ONLY("console-view-only"),
    CHECKPOINT("checkpoint"),
    RECONFIGURE("reconfigure"),
    DELETE("delete"),
    /** Downloading one's VM as an archive: its disks leave the platform with it. */
    EXPORT("export");

    private final String id;

    SelfServiceAction(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static Optional<SelfServiceAction> of(String id) {
        return Arrays.stream(values()).filter(a -> a.id.equals(id)).findFirst();
    }
}
