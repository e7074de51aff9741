package io.hypervise.engine.qmp;

import java.nio.file.Path;

/** No QMP session could be set up on a socket: it never accepted, or the handshake failed. */
public final class QmpConnectException extends QmpException {

    private final Path socket;

    public QmpConnectException(Path socket, String reason, Throwable cause) {
        super("cannot open QMP session on " + socket + ": " + reason, cause);
        this.socket = socket;
    }

    public Path socket() {
        return socket;
    }
}
