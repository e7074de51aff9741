package io.hypervise.server.vm;

import io.hypervise.server.api.RequestRefusedException;

/** A VM whose display does not answer now (within its deadline, or it did not the last time): a 503. */
public class VmScreenUnavailableException extends RequestRefusedException {

    public VmScreenUnavailableException(String reason) {
        super(503, reason);
    }
}
