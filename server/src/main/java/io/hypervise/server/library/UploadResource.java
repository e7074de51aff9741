package io.hypervise.server.library;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HEAD;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.OPTIONS;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;

/**
 * Uploads into the library over the tus 1.0 protocol (core, creation, termination and expiration
 * extensions; {@link TusProtocol}): any tus client (tusd's or Uppy's, or curl with three headers) can
 * send a multi-GiB file in pieces and resume after a dropped connection; the pages' library form speaks
 * the same protocol at {@code /ui/library/uploads} with the browser's session. Metadata
 * ({@code Upload-Metadata}, each value base64): name (or filename), kind (iso or disk), format (left out:
 * detected), sha256, visibility (everyone, groups, admins), groups (comma-separated), description.
 */
@Path("/api/v1/library/uploads")
public class UploadResource {

    static final TusProtocol.Paths PATHS = new TusProtocol.Paths("/api/v1/library/uploads", "/api/v1/jobs");

    @Inject
    TusProtocol tus;

    @Inject
    Uploads uploads;

    @Inject
    CurrentCaller current;

    @OPTIONS
    @Requires(Permission.LIBRARY_WRITE)
    public Response options() {
        return tus.options();
    }

    @POST
    @Requires(Permission.LIBRARY_WRITE)
    @Produces(MediaType.APPLICATION_JSON)
    public Response create(@HeaderParam("Tus-Resumable") String version, @HeaderParam("Upload-Length") String length,
            @HeaderParam("Upload-Defer-Length") String deferLength, @HeaderParam("Upload-Metadata") String metadata) {
        return tus.create(current.get(), PATHS, version, length, deferLength, metadata);
    }

    @HEAD
    @Path("{id}")
    @Requires(Permission.LIBRARY_WRITE)
    public Response offset(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String version) {
        return tus.offset(current.get(), id, version);
    }

    /** The upload as JSON: how far it is, and its import job once all bytes are in. */
    @GET
    @Path("{id}")
    @Requires(Permission.LIBRARY_WRITE)
    @Produces(MediaType.APPLICATION_JSON)
    public UploadView get(@PathParam("id") String id) {
        return uploads.view(current.get(), id);
    }

    @PATCH
    @Path("{id}")
    @Consumes(TusProtocol.OFFSET_OCTET_STREAM)
    @Requires(Permission.LIBRARY_WRITE)
    public Response append(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String version,
            @HeaderParam("Upload-Offset") String offset, InputStream body) throws IOException {
        return tus.append(current.get(), PATHS, id, version, offset, body);
    }

    @DELETE
    @Path("{id}")
    @Requires(Permission.LIBRARY_WRITE)
    public Response terminate(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String version) {
        return tus.terminate(current.get(), id, version);
    }
}
