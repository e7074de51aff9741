package io.hypervise.server.api;

import io.hypervise.server.policy.PolicyDeniedException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.Map;

/** What the caller's self-service policies do not allow: 403, with every reason in {@code reasons}. */
@Provider
public class PolicyDeniedMapper implements ExceptionMapper<PolicyDeniedException> {

    @Override
    public Response toResponse(PolicyDeniedException e) {
        return Problem.response(403, e.getMessage(), Map.of("reasons", e.reasons()));
    }
}
