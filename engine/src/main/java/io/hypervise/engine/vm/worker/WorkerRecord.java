package io.hypervise.engine.vm.worker;

import java.time.Instant;

/**
 * A worker's identity on disk. The PID alone lies after a reboot or PID reuse, so the process's
 * start time (in clock ticks since boot, from /proc/PID/stat) is kept too, and its command line is
 * checked before the engine trusts it.
 *
 * @param uid the user the worker runs as (its VM's own when confined, 0 when not); null in records written
 *            before workers were confined, which are not checked for it
 */
public record WorkerRecord(long pid, long startTicks, WorkerPhase phase, boolean pausedBeforeSave, Instant launchedAt,
        Integer uid) {

    public WorkerRecord(long pid, long startTicks, WorkerPhase phase, boolean pausedBeforeSave, Instant launchedAt) {
        this(pid, startTicks, phase, pausedBeforeSave, launchedAt, null);
    }

    public WorkerRecord withPhase(WorkerPhase newPhase) {
        return new WorkerRecord(pid, startTicks, newPhase, pausedBeforeSave, launchedAt, uid);
    }

    /** In {@code phase} (saving or migrating out), from a guest that was paused or not before it began. */
    public WorkerRecord busyFrom(WorkerPhase busy, boolean paused) {
        return new WorkerRecord(pid, startTicks, busy, paused, launchedAt, uid);
    }

    public WorkerRecord savingFrom(boolean paused) {
        return new WorkerRecord(pid, startTicks, WorkerPhase.SAVING, paused, launchedAt, uid);
    }
}
