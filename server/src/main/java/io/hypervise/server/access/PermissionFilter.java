package io.hypervise.server.access;

import io.hypervise.server.api.Problem;
import io.hypervise.server.audit.DeniedRequests;
import io.hypervise.server.ui.ErrorPage;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.Provider;
import java.lang.reflect.Method;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import org.jboss.logging.Logger;

/**
 * Refuses a call from a caller who has not signed in (401), whose caller has no reach at all for the
 * endpoint's {@link Requires} permission (403), and every call to an endpoint that declares none (fail
 * closed). It guards the API ({@code /api/}), the browser's fragments and actions ({@code /ui/}) and the
 * browser's pages ({@code /admin}, {@code /portal}); a browser that has not signed in is sent to sign in
 * rather than answered 401, and the browser's changes must come from our own pages (see {@link #CSRF_HEADER}).
 */
@Provider
public class PermissionFilter implements ContainerRequestFilter {

    private static final Logger LOG = Logger.getLogger(PermissionFilter.class);

    @Context
    ResourceInfo resource;

    @Inject
    CurrentCaller current;

    @Inject
    DeniedRequests deniedRequests;

    /**
     * htmx sends this header with every request it makes. A change through {@code /ui/} must carry it:
     * another site can make a browser post a form with our session cookie, but not add a header.
     */
    static final String CSRF_HEADER = "HX-Request";

    @Override
    public void filter(ContainerRequestContext request) {
        String path = request.getUriInfo().getPath();
        boolean api = path.startsWith("/api/");
        boolean page = isPage(path);
        if (!api && !page && !path.startsWith("/ui/")) {
            return;
        }
        Caller caller = current.get();
        if (caller.username().equals(Caller.ANONYMOUS)) {
            if (page) {
                String query = request.getUriInfo().getRequestUri().getRawQuery();
                String then = query == null ? path : path + "?" + query;
                request.abortWith(Response.seeOther(URI.create("/login?then=" + URLEncoder.encode(then, StandardCharsets.UTF_8))).build());
                return;
            }
            refuse(request, caller, 401, api
                    ? "sign in first: send an 'Authorization: Bearer <token>' header with an access token from Keycloak's realm 'hypervise'"
                    : "your session has ended: sign in again", false);
            return;
        }
        if (!api && !"GET".equals(request.getMethod()) && request.getHeaderString(CSRF_HEADER) == null) {
            refuse(request, caller, 403, "changes from the browser must come from Hypervise's own pages", page);
            return;
        }
        Method method = resource.getResourceMethod();
        if (method != null && method.isAnnotationPresent(AnySignedInCaller.class)) {
            return;
        }
        Requires requires = required(method, resource.getResourceClass());
        if (requires == null) {
            LOG.errorf("endpoint %s declares no permission; refused", resource.getResourceMethod());
            refuse(request, caller, 403, "this endpoint declares no permission, so nobody may use it", page);
            return;
        }
        if (caller.reach(requires.value()) == Reach.NONE) {
            Decision denied = caller.decide(requires.value(), null);
            LOG.infof("denied %s %s to %s: %s", request.getMethod(), request.getUriInfo().getPath(),
                    caller.username(), denied.reason());
            refuse(request, caller, 403, denied.reason(), page);
        }
    }

    /** Answers with the problem (a page, for a page) and records the denial in the audit log. */
    private void refuse(ContainerRequestContext request, Caller caller, int status, String detail, boolean page) {
        request.abortWith(page ? ErrorPage.response(caller, status, detail)
                : status == 401 ? Problem.unauthorized(detail) : Problem.response(status, detail));
        deniedRequests.record(caller, request.getMethod(), request.getUriInfo().getPath(), status, detail);
    }

    /** Whether the path is one of the browser's pages (the admin console's or the portal's), not the API or a fragment. */
    public static boolean isPage(String path) {
        return path.equals("/admin") || path.startsWith("/admin/") || path.equals("/portal") || path.startsWith("/portal/");
    }

    static Requires required(Method method, Class<?> type) {
        if (method != null && method.isAnnotationPresent(Requires.class)) {
            return method.getAnnotation(Requires.class);
        }
        return type == null ? null : type.getAnnotation(Requires.class);
    }
}
