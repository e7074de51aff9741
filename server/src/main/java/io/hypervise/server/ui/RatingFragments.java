package io.hypervise.server.ui;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.placement.Placements;
import io.hypervise.server.vm.VmRequests;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.ws.rs.BeanParam;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** "Rate hosts": every host's rating for a VM and why, on a VM's page (a dialog) and in the new-VM wizard's review. */
@Path("/ui/ratings")
@Produces(MediaType.TEXT_HTML)
public class RatingFragments {

    @CheckedTemplate(basePath = "ui")
    static final class Templates {

        private Templates() {
        }

        static native TemplateInstance ratings(RatingsDialog d);
    }

    @Inject
    CurrentCaller current;

    @Inject
    Placements placements;

    @Inject
    VmRequests requests;

    @Inject
    LocalHost localHost;

    /** The dialog of an existing VM: where it could go. */
    @GET
    @Path("vms/{id}")
    @Operation(hidden = true)
    @Requires(Permission.PLACEMENT_RATE)
    public TemplateInstance vm(@PathParam("id") String id) {
        var ratings = placements.rate(current.get(), id);
        return Templates.ratings(new RatingsDialog(ratings.vmName(), ratings, true, localHost.id()));
    }

    /** The wizard's review: the new VM as its form describes it, rated on every host. */
    @POST
    @Path("new-vm")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.PLACEMENT_RATE)
    public TemplateInstance newVm(@BeanParam NewVmFields form) {
        VmRequests.NewVm request = requests.toNewVm(form.toRequest(), false);
        long newBytes = request.newImages().values().stream().mapToLong(i -> i.bytes()).sum();
        return Templates.ratings(new RatingsDialog("the new VM", placements.rateNew(current.get(), request.definition(),
                newBytes), false, localHost.id()));
    }
}
