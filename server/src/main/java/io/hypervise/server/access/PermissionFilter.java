package io.hypervise.server.access;

import io.hypervise.server.api.Problem;
import io.hypervise.server.audit.DeniedRequests;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerRequestFilter;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.ext.Provider;
import java.lang.reflect.Method;
import org.jboss.logging.Logger;

/**
 * Refuses an API call from a caller who has not signed in (401), whose caller has no reach at all for the endpoint's {@link Requires} permission,
 * and every API call to an endpoint that declares none (fail closed).
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

    @Override
    public void filter(ContainerRequestContext request) {
        if (!request.getUriInfo().getPath().startsWith("/api/")) {
            return;
        }
        Caller caller = current.get();
        if (caller.username().equals(Caller.ANONYMOUS)) {
            refuse(request, caller, 401, "sign in first: send an 'Authorization: Bearer <token>' header"
                    + " with an access token from Keycloak's realm 'hypervise'");
            return;
        }
        Method method = resource.getResourceMethod();
        if (method != null && method.isAnnotationPresent(AnySignedInCaller.class)) {
            return;
        }
        Requires requires = required(method, resource.getResourceClass());
        if (requires == null) {
            LOG.errorf("endpoint %s declares no permission; refused", resource.getResourceMethod());
            refuse(request, caller, 403, "this endpoint declares no permission, so nobody may use it");
            return;
        }
        if (caller.reach(requires.value()) == Reach.NONE) {
            Decision denied = caller.decide(requires.value(), null);
            LOG.infof("denied %s %s to %s: %s", request.getMethod(), request.getUriInfo().getPath(),
                    caller.username(), denied.reason());
            refuse(request, caller, 403, denied.reason());
        }
    }

    /** Answers with the problem and records the denial in the audit log. */
    private void refuse(ContainerRequestContext request, Caller caller, int status, String detail) {
        request.abortWith(status == 401 ? Problem.unauthorized(detail) : Problem.response(status, detail));
        deniedRequests.record(caller, request.getMethod(), request.getUriInfo().getPath(), status, detail);
    }

    static Requires required(Method method, Class<?> type) {
        if (method != null && method.isAnnotationPresent(Requires.class)) {
            return method.getAnnotation(Requires.class);
        }
        return type == null ? null : type.getAnnotation(Requires.class);
    }
}
