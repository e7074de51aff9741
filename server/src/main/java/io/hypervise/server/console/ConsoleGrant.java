package io.hypervise.server.console;

import io.hypervise.server.access.Caller;
import java.nio.file.Path;

/** What the handshake decided: who may connect to which VM's display, and whether only to watch. */
public record ConsoleGrant(Caller caller, String vmId, Path display, boolean viewOnly) {
}
