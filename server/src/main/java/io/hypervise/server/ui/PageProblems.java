package io.hypervise.server.ui;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.PermissionFilter;
import io.hypervise.server.api.Problem;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.ext.Provider;
import java.util.List;
import java.util.Map;

/**
 * A page (not the API, not a fragment) that fails with a problem document shows it as a page: the
 * same status and words, in the site's frame, instead of JSON in a browser tab.
 */
@Provider
public class PageProblems implements ContainerResponseFilter {

    @Inject
    CurrentCaller current;

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        if (!PermissionFilter.isPage(request.getUriInfo().getPath()) || !Problem.JSON.isCompatible(response.getMediaType()) || !(response.getEntity() instanceof Map<?, ?> body)) {
            return;
        }
        StringBuilder message = new StringBuilder(String.valueOf(body.get("detail")));
        if (body.get("violations") instanceof List<?> violations && !violations.isEmpty()) {
            message.setLength(0);
            violations.forEach(v -> message.append(message.isEmpty() ? "" : "; ").append(v));
        }
        var html = ErrorPage.response(current.get(), response.getStatus(), message.toString());
        response.setEntity(html.getEntity(), null, MediaType.TEXT_HTML_TYPE.withCharset("UTF-8"));
    }
}
