package io.hypervise.server.api;

import io.quarkus.security.AuthenticationFailedException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** A token that is malformed, expired, or not from our realm: 401 with a reason. */
@Provider
public class AuthenticationFailedMapper implements ExceptionMapper<AuthenticationFailedException> {

    @Override
    public Response toResponse(AuthenticationFailedException e) {
        return Problem.unauthorized("the bearer token was not accepted: it is malformed, expired, or not issued"
                + " by Keycloak's realm 'hypervise' for this server");
    }
}
