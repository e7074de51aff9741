package io.hypervise.server.ui;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.library.TusProtocol;
import io.hypervise.server.library.UploadView;
import io.hypervise.server.library.Uploads;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HEAD;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The library page's uploads: tus, as the API speaks it ({@link TusProtocol}), with the browser's
 * session instead of a bearer token (the API takes tokens only). tus-js-client sends htmx's
 * {@code HX-Request} header with every request, which every change from the browser must carry.
 * The last byte's answer names the import job at {@code /ui/jobs/{id}}, which the page polls.
 */
@Path("/ui/library/uploads")
public class LibraryUploads {

    static final TusProtocol.Paths PATHS = new TusProtocol.Paths("/ui/library/uploads", "/ui/jobs");

    @Inject
    TusProtocol tus;

    @Inject
    Uploads uploads;

    @Inject
    CurrentCaller current;

    @POST
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_WRITE)
    @Produces(MediaType.APPLICATION_JSON)
    public Response create(@HeaderParam("Tus-Resumable") String version, @HeaderParam("Upload-Length") String length,
            @HeaderParam("Upload-Defer-Length") String deferLength, @HeaderParam("Upload-Metadata") String metadata) {
        return tus.create(current.get(), PATHS, version, length, deferLength, metadata);
    }

    @HEAD
    @Path("{id}")
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_WRITE)
    public Response offset(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String version) {
        return tus.offset(current.get(), id, version);
    }

    /** The upload as JSON: how far it is, and its import job once all its bytes are in. */
    @GET
    @Path("{id}")
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_WRITE)
    @Produces(MediaType.APPLICATION_JSON)
    public UploadView get(@PathParam("id") String id) {
        return uploads.view(current.get(), id);
    }

    @PATCH
    @Path("{id}")
    @Operation(hidden = true)
    @Consumes(TusProtocol.OFFSET_OCTET_STREAM)
    @Requires(Permission.LIBRARY_WRITE)
    public Response append(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String version,
            @HeaderParam("Upload-Offset") String offset, InputStream body) throws IOException {
        return tus.append(current.get(), PATHS, id, version, offset, body);
    }

    @DELETE
    @Path("{id}")
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_WRITE)
    public Response terminate(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String version) {
        return tus.terminate(current.get(), id, version);
    }
}
