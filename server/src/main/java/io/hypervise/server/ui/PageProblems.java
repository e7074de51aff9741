package io.hypervise.server.ui;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.PermissionFilter;
import io.hypervise.server.api.Problem;
import io.quarkus.security.identity.CurrentIdentityAssociation;
import io.smallrye.mutiny.Uni;
import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

/**
 * A page (not the API, not a fragment) that fails with a problem document shows it as a page: the
 * same status and words, in the site's frame, instead of JSON in a browser tab. So does a download the
 * pages link to (a VM's export), which the browser opens as it would a page when it is refused.
 *
 * <p>The frame names who is signed in. A path that matches no page (404) or no method (405) is
 * answered on the event loop, where the caller may not be asked for synchronously (authentication
 * is lazy and may call Keycloak): so the caller is awaited, never blocked on.
 */
public class PageProblems {

    /** The pages' download links: {@code Fragments#export}. */
    private static final Pattern DOWNLOAD = Pattern.compile("/ui/vms/[^/]+/export");

    @Inject
    CurrentIdentityAssociation identities;

    @ServerResponseFilter
    public Uni<Void> filter(ContainerRequestContext request, ContainerResponseContext response, HttpServerRequest http) {
        String path = request.getUriInfo().getPath();
        if (!(PermissionFilter.isPage(path) || DOWNLOAD.matcher(path).matches()) || !Problem.JSON.isCompatible(response.getMediaType())
                || !(response.getEntity() instanceof Map<?, ?> body)) {
            return Uni.createFrom().voidItem();
        }
        StringBuilder message = new StringBuilder(String.valueOf(body.get("detail")));
        if (body.get("violations") instanceof List<?> violations && !violations.isEmpty()) {
            message.setLength(0);
            violations.forEach(v -> message.append(message.isEmpty() ? "" : "; ").append(v));
        }
        String address = http.remoteAddress() == null ? "unknown" : http.remoteAddress().hostAddress();
        return identities.getDeferredIdentity()
                .onFailure().recoverWithNull() // a session that cannot be used is nobody's
                .map(identity -> {
                    var html = ErrorPage.response(CurrentCaller.of(identity, address), response.getStatus(), message.toString());
                    response.setEntity(html.getEntity(), null, MediaType.TEXT_HTML_TYPE.withCharset("UTF-8"));
                    return null;
                });
    }
}
