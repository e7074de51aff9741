package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The self-service portal: the user's own VMs with only what their policies let them do, the
 * templates they may create from, and their quotas as bars.
 */
@Path("/portal")
@Produces(MediaType.TEXT_HTML)
@Requires(Permission.VM_CREATE)
public class PortalPage {

    @Inject
    CurrentCaller current;

    @Inject
    PortalViews views;

    @Inject
    VmPaneAssembler panes;

    @GET
    @Operation(hidden = true)
    public TemplateInstance portal() {
        Caller caller = current.get();
        return Pages.portal(Nav.of(caller, "/portal"), views.quota(caller), views.mine(caller));
    }

    /** One of the user's VMs on a page of its own, with its utilization over time (others' are 404). */
    @GET
    @Path("vms/{id}")
    @Operation(hidden = true)
    public TemplateInstance vm(@PathParam("id") String id) {
        return Pages.vm(Nav.of(current.get(), "/portal"), panes.storage(id), "/portal", "/portal/vms/" + id);
    }
}
