package io.hypervise.server.inventory;

import io.hypervise.server.api.RequestRefusedException;

/**
 * A VM that cannot be acted on here and now, whatever its engine state: it is being created or deleted,
 * or another host runs it. A 409 whose reason says which.
 */
public class VmConflictException extends RequestRefusedException {

    public VmConflictException(String reason) {
        super(409, reason);
    }
}
