package io.hypervise.server.console;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
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
 * open in a frame or a window of its own. A browser that has not signed in is sent to sign in first;
 * one that may not have this console gets the refusal here (404 or 403, audited) rather than a page
 * that retries a handshake that will never succeed. The handshake decides again, every time.
 */
@Path("/console/{id}")
public class ConsolePage {

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");
    private static final String PAGE = "META-INF/resources/console-app/console.html";

    @Inject
    CurrentCaller current;

    @Inject
    ConsoleAuthorizer authorizer;

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
        ConsoleGrant grant;
        try {
            grant = authorizer.decide(current.get(), id, false);
        } catch (ConsoleRefusal refusal) {
            return Response.status(refusal.status()).type(MediaType.TEXT_HTML)
                    .entity("<!doctype html><meta charset=\"utf-8\"><title>No console</title><h1>No console</h1><p>"
                            + escape(refusal.getMessage()) + "</p>\n").build();
        }
        return Response.ok(html().replace("{{viewOnly}}", Boolean.toString(grant.viewOnly()))).header("Cache-Control", "no-store")
                .header("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:;"
                        + " style-src 'self' 'unsafe-inline'; frame-ancestors 'self'")
                .build();
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
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
