package io.hypervise.engine.vm.worker;

import java.time.Instant;

/**
 * A worker's identity on disk. The PID alone lies after a reboot or PID reuse, so the process's
 * start time (in clock ticks since boot, from /proc/PID/stat) is kept too, and its command line is
 * checked before the engine trusts it.
 */
public record WorkerRecord(long pid, long startTicks, WorkerPhase phase, boolean pausedBeforeSave, Instant launchedAt) {

    public WorkerRecord withPhase(WorkerPhase newPhase) {
        return new WorkerRecord(pid, startTicks, newPhase, pausedBeforeSave, launchedAt);
    }

    public WorkerRecord savingFrom(boolean paused) {
        return new WorkerRecord(pid, startTicks, WorkerPhase.SAVING, paused, launchedAt);
    }
}
