package io.hypervise.server.console;

import io.hypervise.server.api.RequestRefusedException;

/**
 * A console handshake refused with an HTTP status, before any WebSocket opens. The console's page and
 * handshake answer it in their own way (a page, an upgrade refused); anywhere else it is a problem document.
 */
final class ConsoleRefusal extends RequestRefusedException {

    ConsoleRefusal(int status, String reason) {
        super(status, reason);
    }
}
