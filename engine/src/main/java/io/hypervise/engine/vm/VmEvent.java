package io.hypervise.engine.vm;

import java.time.Instant;
import java.util.Optional;

/** What the engine reports about VMs as it happens. */
public sealed interface VmEvent {

    String vmId();

    Instant at();

    /** A VM changed state, and why. */
    record StateChanged(String vmId, String vmName, VmState from, VmState to, String reason, Instant at)
            implements VmEvent {
    }

    /**
     * A VM's worker stopped answering ({@code unresponsive} present) or answers again (empty, with
     * {@code reason} saying for how long it did not).
     */
    record ResponsivenessChanged(String vmId, String vmName, Optional<Unresponsive> unresponsive, String reason,
            Instant at) implements VmEvent {
    }

    /** A long operation advanced: {@code done} of {@code total} units (bytes for save and restore). */
    record Progress(String vmId, VmAction action, long done, long total, Instant at) implements VmEvent {
    }
}
