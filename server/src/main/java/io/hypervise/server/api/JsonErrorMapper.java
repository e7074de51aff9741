package io.hypervise.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import java.util.stream.Collectors;

/** A body that is not JSON, or JSON of the wrong shape: 400, naming where. */
@Provider
public class JsonErrorMapper implements ExceptionMapper<JsonProcessingException> {

    @Override
    public Response toResponse(JsonProcessingException e) {
        return problem(e);
    }

    static Response problem(JsonProcessingException e) {
        if (e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
            String field = m.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining(".")).replace(".[", "[");
            return Problem.response(400, field + ": has the wrong type or shape (" + m.getOriginalMessage().split("\n")[0] + ")");
        }
        return Problem.response(400, "the body is not valid JSON: " + e.getOriginalMessage().split("\n")[0]);
    }
}
