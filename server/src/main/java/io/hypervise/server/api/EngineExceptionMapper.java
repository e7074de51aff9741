package io.hypervise.server.api;

import io.hypervise.engine.vm.EngineException;
import io.hypervise.engine.vm.InvalidVmDefinitionException;
import io.hypervise.engine.vm.VmAlreadyExistsException;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmOperationException;
import io.hypervise.engine.vm.VmStateException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.LinkedHashMap;
import java.util.Map;

/** Maps the engine's failures to RFC 9457 problem documents, in one place. */
@Provider
public class EngineExceptionMapper implements ExceptionMapper<EngineException> {

    public static final MediaType PROBLEM_JSON = new MediaType("application", "problem+json");

    @Override
    public Response toResponse(EngineException e) {
        int status = switch (e) {
            case VmNotFoundException x -> 404;
            case VmStateException x -> 409;
            case VmAlreadyExistsException x -> 409;
            case InvalidVmDefinitionException x -> 400;
            case VmOperationException x -> 502;
        };
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", "about:blank");
        problem.put("title", Response.Status.fromStatusCode(status).getReasonPhrase());
        problem.put("status", status);
        problem.put("detail", e.getMessage());
        if (e instanceof InvalidVmDefinitionException invalid) {
            problem.put("violations", invalid.violations());
        }
        return Response.status(status).type(PROBLEM_JSON).entity(problem).build();
    }
}
