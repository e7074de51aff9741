package io.hypervise.server.vm;

import io.hypervise.server.api.Problem;
import jakarta.ws.rs.WebApplicationException;

/** A VM whose display does not answer now (within its deadline, or it did not the last time): a 503. */
public class VmScreenUnavailableException extends WebApplicationException {

    public VmScreenUnavailableException(String reason) {
        super(reason, Problem.response(503, reason));
    }
}
