package io.hypervise.server.api;

import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** A bad filter or page: 400 naming each parameter and its rule. */
@Provider
public class InvalidQueryMapper implements ExceptionMapper<InvalidQueryException> {

    @Override
    public Response toResponse(InvalidQueryException e) {
        return Problem.response(400, e.getMessage(), e.violations());
    }
}
