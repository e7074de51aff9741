package io.hypervise.server.host;

import io.hypervise.engine.host.HostLoad;
import java.time.Instant;

/** A host in the inventory: what it can run, how busy it is now, and how many VMs it holds. */
public record HostDetail(String id, String name, HostView capabilities, HostLoad load, long vms, long runningVms,
        Instant lastSeenAt) {
}
