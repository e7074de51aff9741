package io.hypervise.engine.qmp;

import java.nio.file.Path;
import java.time.Duration;

/** QEMU did not answer a command in time. The client stays usable; a late answer is discarded. */
public final class QmpTimeoutException extends QmpException {

    private final String command;
    private final Duration timeout;

    public QmpTimeoutException(String command, Duration timeout, Path socket) {
        super("QMP command '" + command + "' got no response from " + socket + " within "
                + Durations.format(timeout));
        this.command = command;
        this.timeout = timeout;
    }

    public String command() {
        return command;
    }

    public Duration timeout() {
        return timeout;
    }
}
