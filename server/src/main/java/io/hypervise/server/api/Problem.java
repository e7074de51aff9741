package io.hypervise.server.api;

import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An RFC 9457 problem document: every error the API returns has this shape. */
public final class Problem {

    public static final MediaType JSON = new MediaType("application", "problem+json");

    private Problem() {
    }

    /** 401 with the challenge RFC 6750 asks for, so clients know a bearer token is wanted. */
    public static Response unauthorized(String detail) {
        return Response.fromResponse(response(401, detail)).header("WWW-Authenticate", "Bearer realm=\"hypervise\"").build();
    }

    public static Response response(int status, String detail) {
        return response(status, detail, List.of());
    }

    /** @param violations for invalid input: one entry per broken rule, naming its field */
    public static Response response(int status, String detail, List<?> violations) {
        return response(status, detail, violations.isEmpty() ? Map.of() : Map.of("violations", violations));
    }

    /** @param extensions members beyond RFC 9457's own, such as {@code violations} or {@code reasons} */
    public static Response response(int status, String detail, Map<String, ?> extensions) {
        Response.StatusType type = Response.Status.fromStatusCode(status);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank");
        body.put("title", type == null ? "HTTP " + status : type.getReasonPhrase());
        body.put("status", status);
        body.put("detail", detail);
        body.putAll(extensions);
        return Response.status(status).type(JSON).entity(body).build();
    }
}
