package io.hypervise.engine.vm;

import java.time.Instant;

/**
 * A VM's worker has stopped answering: since when, and what it did not answer. A detail of the VM's
 * state, not a state of its own: the VM is still whatever it was (Running, Paused, …) as far as anyone
 * can tell, and only turning it off is possible until its worker answers again.
 */
public record Unresponsive(Instant since, String reason) {
}
