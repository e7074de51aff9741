package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The front door: a sign-in button, or straight on to where the signed-in caller's roles lead. */
@Path("/")
public class HomePage {

    @Inject
    CurrentCaller current;

    @GET
    @Produces(MediaType.TEXT_HTML)
    @Operation(hidden = true)
    public Response home() {
        Caller caller = current.get();
        if (caller.username().equals(Caller.ANONYMOUS)) {
            return page(Pages.home(Nav.of(caller, "/"), null));
        }
        String home = Nav.home(caller);
        if (home == null) {
            return page(Pages.home(Nav.of(caller, "/"), caller.username() + " is signed in but holds no Hypervise role"
                    + " (hv-admin, hv-operator, hv-auditor or hv-self-service); ask an administrator for one."));
        }
        return Response.seeOther(URI.create(home)).build();
    }

    private static Response page(TemplateInstance page) {
        return Response.ok(page).type(MediaType.TEXT_HTML_TYPE.withCharset("UTF-8")).build();
    }
}
