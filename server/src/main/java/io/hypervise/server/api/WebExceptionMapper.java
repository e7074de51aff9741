package io.hypervise.server.api;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** Gives the framework's own errors (unknown path, wrong method, bad request) the problem shape too. */
@Provider
public class WebExceptionMapper implements ExceptionMapper<WebApplicationException> {

    @Override
    public Response toResponse(WebApplicationException e) {
        if (e.getResponse().hasEntity()) {
            return e.getResponse(); // already a problem document, built where the reason was known
        }
        int status = e.getResponse().getStatus();
        String detail = switch (status) {
            case 404 -> e.getMessage() == null || e.getMessage().startsWith("HTTP 404") ? "no such resource" : e.getMessage();
            case 405 -> "this method is not allowed on this resource";
            default -> e.getMessage();
        };
        return Problem.response(status, detail);
    }
}
