package io.hypervise.server.api;

import io.hypervise.server.access.Caller;
import io.hypervise.server.audit.DeniedRequests;
import io.quarkus.security.AuthenticationFailedException;
import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.Set;

/**
 * A token that is malformed, expired, or not from our realm: 401 with a reason, and an audit entry
 * (by "anonymous": a token that was not accepted names nobody we can trust).
 */
@Provider
public class AuthenticationFailedMapper implements ExceptionMapper<AuthenticationFailedException> {

    static final String REASON = "the bearer token was not accepted: it is malformed, expired, or not issued"
            + " by Keycloak's realm 'hypervise' for this server";

    @Context
    HttpServerRequest request;

    @Inject
    DeniedRequests deniedRequests;

    @Override
    public Response toResponse(AuthenticationFailedException e) {
        String address = request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
        deniedRequests.record(new Caller(Caller.ANONYMOUS, Set.of(), Set.of(), address), request.method().name(),
                request.path(), 401, REASON);
        return Problem.unauthorized(REASON);
    }
}
