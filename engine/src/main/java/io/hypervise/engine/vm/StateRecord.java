package io.hypervise.engine.vm;

import java.time.Instant;

/**
 * A VM's state and when it entered it, kept on disk at every change: an engine that starts again and
 * finds the VM in the same state keeps that time, so a VM running for days does not read "running for
 * a second" after the server restarts.
 */
public record StateRecord(VmState state, Instant since) {
}
