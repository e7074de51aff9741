package io.hypervise.server.library;

import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.List;

/**
 * Lets the bytes of an upload (a tus PATCH) and of a VM archive (an import's POST) through Quarkus's
 * request body limit, which stays in force for every other request (quarkus.http.limits.max-body-size,
 * 10 MiB by default): an upload's body is streamed to its part file and bounded by the upload's own length
 * instead ({@link Uploads}), an archive's by the storage root's free space.
 *
 * <p>Quarkus enforces the limit in a route of order -2 that refuses a larger Content-Length and leaves the
 * limit for the body stream in the routing context. For the upload paths only (the API's, and the pages'
 * with the browser's session), a route before it sets the header aside, and one after it puts the header
 * back and lifts the stream's limit. The HTTP framing was decoded before any route runs, so the header's
 * absence in between changes nothing else.
 */
@ApplicationScoped
public class UploadBodyLimit {

    static final List<String> PATHS = List.of("/api/v1/library/uploads/:id", "/ui/library/uploads/:id");
    /** VM archives, streamed to the storage root and bounded by the free space there ({@code VmArchives}). */
    static final List<String> IMPORT_PATHS = List.of("/api/v1/vms/import", "/ui/vms/import");
    private static final String MAX_REQUEST_SIZE = "io.quarkus.max-request-size";
    private static final String SET_ASIDE = "hypervise.upload-content-length";

    void install(@Observes Router router) {
        PATHS.forEach(path -> install(router, HttpMethod.PATCH, path));
        IMPORT_PATHS.forEach(path -> install(router, HttpMethod.POST, path));
    }

    private static void install(Router router, HttpMethod method, String path) {
        router.route(method, path).order(-3).handler(rc -> {
            String length = rc.request().getHeader(HttpHeaders.CONTENT_LENGTH);
            if (length != null) {
                rc.put(SET_ASIDE, length);
                rc.request().headers().remove(HttpHeaders.CONTENT_LENGTH);
            }
            rc.next();
        });
        router.route(method, path).order(-1).handler(rc -> {
            rc.remove(MAX_REQUEST_SIZE);
            String length = rc.get(SET_ASIDE);
            if (length != null) {
                rc.request().headers().set(HttpHeaders.CONTENT_LENGTH, length);
            }
            rc.next();
        });
    }
}
