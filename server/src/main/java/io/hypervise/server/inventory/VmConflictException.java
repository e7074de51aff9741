package io.hypervise.server.inventory;

import io.hypervise.server.api.Problem;
import jakarta.ws.rs.WebApplicationException;

/**
 * A VM that cannot be acted on here and now, whatever its engine state: it is being created or deleted,
 * or another host runs it. A 409 whose reason says which.
 */
public class VmConflictException extends WebApplicationException {

    public VmConflictException(String reason) {
        super(reason, Problem.response(409, reason));
    }
}
