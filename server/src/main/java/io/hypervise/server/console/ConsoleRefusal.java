package io.hypervise.server.console;

/** A console handshake refused with an HTTP status, before any WebSocket opens. */
final class ConsoleRefusal extends RuntimeException {

    private final int status;

    ConsoleRefusal(int status, String reason) {
        super(reason);
        this.status = status;
    }

    int status() {
        return status;
    }
}
