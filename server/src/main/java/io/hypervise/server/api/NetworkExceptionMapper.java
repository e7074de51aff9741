package io.hypervise.server.api;

import io.hypervise.engine.network.NetworkException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** The engine's virtual switch failures, as problem documents. */
@Provider
public class NetworkExceptionMapper implements ExceptionMapper<NetworkException> {

    @Override
    public Response toResponse(NetworkException e) {
        return Problem.response(switch (e.reason()) {
            case NOT_FOUND -> 404;
            case IN_USE -> 409;
            case INVALID -> 400;
            // The host, not the request, lacks something; the request is sound but cannot be done here.
            case UNAVAILABLE -> 409;
            // The kernel refused what it should have accepted: a gateway error carrying iproute2's words.
            case FAILED -> 502;
        }, e.getMessage());
    }
}
