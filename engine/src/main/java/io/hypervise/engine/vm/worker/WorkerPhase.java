package io.hypervise.engine.vm.worker;

/**
 * What a worker was doing when its record was last written; it tells a re-attaching engine how to
 * finish or undo an operation that the previous engine process did not see through.
 */
public enum WorkerPhase {
    /** Created paused, not yet resumed: a re-attaching engine turns it off rather than guess. */
    LAUNCHING,
    /** Loading a saved state: a re-attaching engine turns it off; the saved state is still on disk. */
    RESTORING,
    /** Running or paused under supervision. */
    SUPERVISED,
    /** Writing its state to the saved-state file: a re-attaching engine cancels the save. */
    SAVING,
    /** Sending its VM live to another host: a re-attaching engine cancels the migration and keeps the guest here. */
    MIGRATING_OUT,
    /** Waiting for a VM arriving live from another host: a re-attaching engine turns it off (the source runs on). */
    MIGRATING_IN
}
