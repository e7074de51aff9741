package io.hypervise.server.api;

import io.hypervise.engine.EngineException;
import io.hypervise.engine.network.NetworkException;
import io.hypervise.engine.vm.VmAlreadyExistsException;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmOperationException;
import io.hypervise.engine.vm.VmStateException;
import io.hypervise.engine.vm.VmUnresponsiveException;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/** Maps the engine's failures to problem documents, in one place. */
@Provider
public class EngineExceptionMapper implements ExceptionMapper<EngineException> {

    @Override
    public Response toResponse(EngineException e) {
        return switch (e) {
            case VmNotFoundException x -> Problem.response(404, x.getMessage());
            case VmStateException x -> Problem.response(409, x.getMessage());
            case VmAlreadyExistsException x -> Problem.response(409, x.getMessage());
            case InvalidVmDefinitionException x -> Problem.response(400, x.getMessage(), x.violations());
            // The worker did not answer in time: nothing is known to have happened.
            case VmUnresponsiveException x -> Problem.response(504, x.getMessage());
            // The worker, not the client, failed: a gateway error carrying QEMU's reason.
            case VmOperationException x -> Problem.response(502, x.getMessage());
            // The more specific NetworkExceptionMapper answers these; kept here so the switch says where they go.
            case NetworkException x -> new NetworkExceptionMapper().toResponse(x);
            // Failures the engine handles itself (QMP, image headers): one that escapes is the server's fault.
            default -> new UnexpectedErrorMapper().toResponse(e);
        };
    }

}
