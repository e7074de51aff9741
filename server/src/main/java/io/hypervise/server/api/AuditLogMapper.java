package io.hypervise.server.api;

import io.hypervise.server.audit.AuditLogException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import org.jboss.logging.Logger;

/**
 * The audit log could not take an entry: the request was refused before anything was done (an action's
 * intent is recorded before it is carried out), so the client may try again once the log is back.
 */
@Provider
public class AuditLogMapper implements ExceptionMapper<AuditLogException> {

    private static final Logger LOG = Logger.getLogger(AuditLogMapper.class);

    @Override
    public Response toResponse(AuditLogException e) {
        LOG.errorf("request refused, the audit log cannot be written: %s", e.getMessage());
        return Response.fromResponse(Problem.response(503,
                "the audit log cannot record this request now, so nothing was done: " + e.getMessage()))
                .header("Retry-After", "30").build();
    }
}
