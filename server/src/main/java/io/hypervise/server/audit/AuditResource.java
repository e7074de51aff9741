package io.hypervise.server.audit;

import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

/** The audit log for auditors and administrators: filtered pages, and the chain's verification. */
@Path("/api/v1/audit")
@Produces(MediaType.APPLICATION_JSON)
@Requires(Permission.AUDIT_READ)
public class AuditResource {

    @Inject
    AuditReader reader;

    /** Entries newest first. Parameters arrive as text so that a bad one gets a 400 naming its rule. */
    @GET
    public AuditPage find(@QueryParam("actor") String actor, @QueryParam("action") String action,
            @QueryParam("target") String target, @QueryParam("outcome") String outcome,
            @QueryParam("from") String from, @QueryParam("to") String to,
            @QueryParam("page") String page, @QueryParam("size") String size) {
        return reader.find(AuditQuery.parse(actor, action, target, outcome, from, to, page, size));
    }

    @GET
    @Path("verify")
    public AuditVerification verify() {
        return reader.verify();
    }
}
