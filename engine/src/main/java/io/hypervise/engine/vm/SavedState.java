package io.hypervise.engine.vm;

import java.time.Instant;

/** The record of a completed save: when, how big, and whether the VM was paused when it was saved. */
public record SavedState(Instant savedAt, long bytes, boolean paused) {
}
