package io.hypervise.server.access;

import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The pages' "Sign out". Authentication is lazy (quarkus.http.auth.proactive=false), so Quarkus OIDC
 * sees this path, which is its logout path, only when something asks who the caller is: asking here
 * makes it end the session (at Keycloak too, then back home) for a signed-in browser, and this method
 * is never reached. A browser that is not signed in gets here, and goes home.
 */
@Path("/logout")
public class LogoutResource {

    @Inject
    CurrentCaller current;

    @GET
    @Operation(hidden = true)
    public Response signOut() {
        current.get();
        return Response.seeOther(URI.create("/")).build();
    }
}
