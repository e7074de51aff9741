package io.hypervise.server.console;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The full-window console of a VM (noVNC, from frontend/), which the admin console and the portal
 * open in a frame or a window of its own. Whether the viewer may see the VM is decided when its
 * WebSocket connects; this page only makes sure a browser has signed in first.
 */
@Path("/console/{id}")
public class ConsolePage {

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");
    private static final String PAGE = "META-INF/resources/console-app/console.html";

    @Inject
    CurrentCaller current;

    @GET
    @Produces(MediaType.TEXT_HTML)
    @Operation(hidden = true)
    public Response page(@PathParam("id") String id) {
        if (!ID.matcher(id).matches()) {
            return Response.status(404).type(MediaType.TEXT_PLAIN).entity("no VM '" + id + "'\n").build();
        }
        if (current.get().username().equals(Caller.ANONYMOUS)) {
            return Response.seeOther(URI.create("/login?then=/console/" + id)).build();
        }
        // Without vm-console anywhere, the server will make any console of theirs view-only: say so.
        boolean viewOnly = current.get().reach(Permission.VM_CONSOLE) == Reach.NONE;
        return Response.ok(html().replace("{{viewOnly}}", Boolean.toString(viewOnly))).header("Cache-Control", "no-store")
                .header("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:;"
                        + " style-src 'self' 'unsafe-inline'; frame-ancestors 'self'")
                .build();
    }

    private static String html() {
        try (InputStream in = ConsolePage.class.getClassLoader().getResourceAsStream(PAGE)) {
            if (in == null) {
                throw new IllegalStateException(PAGE + " is missing: the build runs frontend/build.sh to make it");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
