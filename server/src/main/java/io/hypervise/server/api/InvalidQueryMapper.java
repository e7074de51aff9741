package io.hypervise.server.api;

import io.hypervise.server.audit.InvalidAuditQueryException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** A bad filter or page of the audit log: 400 naming each parameter and its rule. */
@Provider
public class InvalidAuditQueryMapper implements ExceptionMapper<InvalidAuditQueryException> {

    @Override
    public Response toResponse(InvalidAuditQueryException e) {
        return Problem.response(400, e.getMessage(), e.violations());
    }
}
