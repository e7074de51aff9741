package io.hypervise.server.console;

import io.hypervise.engine.display.VmDisplay;
import io.hypervise.server.access.Caller;

/** What the handshake decided: who may connect to which VM's display, and whether only to watch. */
public record ConsoleGrant(Caller caller, String vmId, VmDisplay display, boolean viewOnly) {
}
