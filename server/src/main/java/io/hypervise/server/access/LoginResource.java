package io.hypervise.server.access;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.util.regex.Pattern;

/**
 * Where a browser goes to sign in: Keycloak's page first (the OIDC code flow), then home, or back to
 * the page of this server that sent it here ({@code ?then=/console/demo}).
 */
@Path("/login")
public class LoginResource {

    /**
     * A path on this server, with its query if it has one: never another host ("//evil", "https:"),
     * never a backslash trick.
     */
    private static final Pattern LOCAL_PATH = Pattern.compile("/(?![/\\\\])[A-Za-z0-9/._~%-]*(\\?[A-Za-z0-9._~%&=+-]*)?");

    @GET
    public Response login(@QueryParam("then") String then) {
        String target = then != null && LOCAL_PATH.matcher(then).matches() ? then : "/";
        return Response.seeOther(URI.create(target)).build();
    }
}
