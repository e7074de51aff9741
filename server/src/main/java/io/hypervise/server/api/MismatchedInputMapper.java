package io.hypervise.server.api;

import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;

/**
 * JSON of the wrong shape (a word where a number belongs): the framework has its own mapper for this
 * exact type, so ours must name it too to answer with a problem document like every other error.
 */
@Provider
public class MismatchedInputMapper implements ExceptionMapper<MismatchedInputException> {

    @Override
    public Response toResponse(MismatchedInputException e) {
        return JsonErrorMapper.problem(e);
    }
}
