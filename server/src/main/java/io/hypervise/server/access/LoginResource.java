package io.hypervise.server.access;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;
import java.net.URI;

/** Where a browser goes to sign in: Keycloak's page first (the OIDC code flow), then home. */
@Path("/login")
public class LoginResource {

    @GET
    public Response login() {
        return Response.seeOther(URI.create("/")).build();
    }
}
