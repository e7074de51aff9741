package io.hypervise.engine.vm;

/** The VM states of the source chapter, plus the transitional states between them. */
public enum VmState {
    OFF("Off"),
    STARTING("Starting"),
    RUNNING("Running"),
    PAUSED("Paused"),
    SAVING("Saving"),
    SAVED("Saved"),
    RESTORING("Restoring"),
    STOPPING("Stopping"),
    /** Moving, live, to another host (the source), or arriving from one (the target, paused until handed over). */
    MIGRATING("Migrating");

    private final String displayName;

    VmState(String displayName) {
        this.displayName = displayName;
    }

    public String displayName() {
        return displayName;
    }

    /** Whether a worker process exists in this state. */
    public boolean hasWorker() {
        return this != OFF && this != SAVED;
    }
}
