package io.hypervise.engine;

import java.nio.file.Path;
import java.time.Duration;

/**
 * How the VM service behaves. {@link #defaults(Path)} are the values a laptop needs.
 *
 * @param stateDir          where the engine keeps each VM's folder (sockets, logs, saved states)
 * @param qmpConnectTimeout how long a fresh worker may take to open its QMP socket
 * @param commandTimeout    how long any single QMP command may take: one hung worker must not hang
 *                          anything else
 * @param shutdownTimeout   how long a guest gets to act on the power button before it is turned off
 * @param saveTimeout       how long saving or restoring a VM's memory may take
 */
public record EngineSettings(
        Path stateDir,
        Duration qmpConnectTimeout,
        Duration commandTimeout,
        Duration shutdownTimeout,
        Duration saveTimeout) {

    public static EngineSettings defaults(Path stateDir) {
        return new EngineSettings(stateDir, Duration.ofSeconds(30), Duration.ofSeconds(10),
                Duration.ofSeconds(60), Duration.ofMinutes(10));
    }

    public EngineSettings withShutdownTimeout(Duration timeout) {
        return new EngineSettings(stateDir, qmpConnectTimeout, commandTimeout, timeout, saveTimeout);
    }
}
