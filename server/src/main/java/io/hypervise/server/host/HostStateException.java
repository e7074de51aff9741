package io.hypervise.server.host;

import io.hypervise.server.api.RequestRefusedException;

/** What was asked of a host does not fit its state (it left the cluster, for instance): a 409 that says why. */
public class HostStateException extends RequestRefusedException {

    public HostStateException(String message) {
        super(409, message);
    }
}
