package io.hypervise.server.vm;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.cluster.PeerApi;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.ArrayList;
import java.util.List;

/**
 * The internal API the cluster's other servers call ({@link PeerApi}): carry out, on this host's engine, what
 * another server decided (its caller's access and policies) and audited. Only the hosts' service identity holds
 * {@link Permission#HOST_PEER}; every person's role is refused (403). A VM this host does not own is a 409.
 */
@Path(PeerApi.ROOT + "/vms")
@Produces(MediaType.APPLICATION_JSON)
@Requires(Permission.HOST_PEER)
public class PeerVmResource {

    private static final int MAX_LINES = 10_000;

    @Inject
    VmService vms;

    @Inject
    CurrentCaller current;

    @Inject
    VmMigrations migrations;

    /** A lifecycle operation, carried out before the answer (a start, save or shut-down too: the asking server's job waits). */
    @POST
    @Path("{id}/operations")
    @Consumes(MediaType.APPLICATION_JSON)
    public PeerApi.OperationResult act(@PathParam("id") String id, PeerApi.OperationRequest request) {
        return new PeerApi.OperationResult(id, vms.actForPeer(current.get(), id, request));
    }

    /** Prepare to receive the VM live from its owner: where the owner's worker sends it. */
    @POST
    @Path("{id}/incoming")
    @Consumes(MediaType.APPLICATION_JSON)
    public PeerApi.Incoming receive(@PathParam("id") String id, PeerApi.IncomingRequest request) {
        return migrations.receive(id, request);
    }

    /** Resume the VM that arrived live; only once the database names this host its owner. */
    @POST
    @Path("{id}/incoming/finish")
    @Consumes(MediaType.APPLICATION_JSON)
    public PeerApi.OperationResult finish(@PathParam("id") String id, PeerApi.FinishRequest request) {
        return new PeerApi.OperationResult(id, migrations.finish(id, request));
    }

    /** Give up the VM that was arriving: its worker and fresh images go. */
    @DELETE
    @Path("{id}/incoming")
    public void abandon(@PathParam("id") String id) {
        migrations.abandon(id);
    }

    /** The last lines the guest wrote to its serial console. */
    @GET
    @Path("{id}/serial")
    public PeerApi.SerialLines serial(@PathParam("id") String id, @QueryParam("lines") String linesParam) {
        List<FieldError> violations = new ArrayList<>();
        int lines = QueryParameters.wholeNumber("lines", linesParam, 100, 1, MAX_LINES, violations);
        QueryParameters.check(violations);
        return new PeerApi.SerialLines(vms.serialForPeer(id, lines));
    }
}
