package io.hypervise.server.library;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
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
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Uploads into the library over the tus 1.0 protocol (core, creation, termination and expiration
 * extensions): any tus client (tus-js-client in the console and portal, tusd's or Uppy's, or curl with
 * three headers) can send a multi-GiB file in pieces and resume after a dropped connection. Metadata
 * ({@code Upload-Metadata}, each value base64): name (or filename), kind (iso or disk), format (left out:
 * detected), sha256, visibility (everyone, groups, admins), groups (comma-separated), description.
 */
@Path("/api/v1/library/uploads")
public class UploadResource {

    static final String TUS_VERSION = "1.0.0";
    static final String OFFSET_OCTET_STREAM = "application/offset+octet-stream";

    @Inject
    Uploads uploads;

    @Inject
    CurrentCaller current;

    @OPTIONS
    @Requires(Permission.LIBRARY_WRITE)
    public Response options() {
        return Response.noContent().header("Tus-Resumable", TUS_VERSION).header("Tus-Version", TUS_VERSION)
                .header("Tus-Extension", "creation,termination,expiration").build();
    }

    @POST
    @Requires(Permission.LIBRARY_WRITE)
    @Produces(MediaType.APPLICATION_JSON)
    public Response create(@HeaderParam("Tus-Resumable") String tus, @HeaderParam("Upload-Length") String length,
            @HeaderParam("Upload-Defer-Length") String deferLength, @HeaderParam("Upload-Metadata") String metadata) {
        checkVersion(tus);
        List<FieldError> v = new ArrayList<>();
        if (deferLength != null) {
            v.add(new FieldError("Upload-Defer-Length", "is not supported: give Upload-Length, the file's length in bytes"));
        }
        long bytes = 0;
        try {
            bytes = length == null ? 0 : Long.parseLong(length.strip());
        } catch (NumberFormatException e) {
            v.add(new FieldError("Upload-Length", "must be the file's length in bytes; got '" + length + "'"));
        }
        Map<String, String> m = metadata(metadata, v);
        if (!v.isEmpty()) {
            throw new InvalidRequestException("library upload", v);
        }
        String groups = m.get("groups");
        UploadView created = uploads.create(current.get(), new Uploads.NewUpload(bytes, m.getOrDefault("name", m.get("filename")),
                m.get("description"), m.get("kind"), blankToNull(m.get("format")), blankToNull(m.get("sha256")),
                m.get("visibility"), groups == null || groups.isBlank() ? null : Arrays.stream(groups.split(",")).map(String::strip).toList()));
        return Response.created(URI.create("/api/v1/library/uploads/" + created.id())).entity(created)
                .header("Tus-Resumable", TUS_VERSION).header("Upload-Expires", httpDate(created)).build();
    }

    @HEAD
    @Path("{id}")
    @Requires(Permission.LIBRARY_WRITE)
    public Response offset(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String tus) {
        checkVersion(tus);
        UploadView u = uploads.view(current.get(), id);
        return Response.ok().header("Tus-Resumable", TUS_VERSION).header("Upload-Offset", u.offset())
                .header("Upload-Length", u.length()).header("Upload-Expires", httpDate(u)).header("Cache-Control", "no-store").build();
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
    @Consumes(OFFSET_OCTET_STREAM)
    @Requires(Permission.LIBRARY_WRITE)
    public Response append(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String tus,
            @HeaderParam("Upload-Offset") String offset, InputStream body) throws IOException {
        checkVersion(tus);
        long from;
        try {
            from = Long.parseLong(offset == null ? "" : offset.strip());
        } catch (NumberFormatException e) {
            throw new InvalidRequestException("library upload", List.of(new FieldError("Upload-Offset",
                    "is required: the byte the body starts at, where the upload stands (HEAD tells)")));
        }
        Uploads.Appended appended = uploads.append(current.get(), id, from, body);
        Response.ResponseBuilder r = Response.noContent().header("Tus-Resumable", TUS_VERSION).header("Upload-Offset", appended.offset());
        if (appended.job() != null) {
            r.header("Hypervise-Job", "/api/v1/jobs/" + appended.job().id());
        }
        return r.build();
    }

    @DELETE
    @Path("{id}")
    @Requires(Permission.LIBRARY_WRITE)
    public Response terminate(@PathParam("id") String id, @HeaderParam("Tus-Resumable") String tus) {
        checkVersion(tus);
        uploads.terminate(current.get(), id);
        return Response.noContent().header("Tus-Resumable", TUS_VERSION).build();
    }

    /** tus asks every request to carry its version; one that names another is refused, one that names none is taken as 1.0.0 (curl). */
    private static void checkVersion(String tus) {
        if (tus != null && !tus.strip().equals(TUS_VERSION)) {
            throw new InvalidRequestException("library upload", List.of(new FieldError("Tus-Resumable",
                    "must be " + TUS_VERSION + ", the tus version this server speaks; got '" + tus + "'")));
        }
    }

    /** tus metadata: comma-separated pairs of a key and its base64 value. */
    static Map<String, String> metadata(String header, List<FieldError> v) {
        Map<String, String> m = new HashMap<>();
        if (header == null || header.isBlank()) {
            return m;
        }
        for (String pair : header.split(",")) {
            String[] kv = pair.strip().split(" ", 2);
            if (kv[0].isEmpty()) {
                continue;
            }
            try {
                m.put(kv[0], kv.length == 1 ? "" : new String(Base64.getDecoder().decode(kv[1].strip()), StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                v.add(new FieldError("Upload-Metadata", "the value of '" + kv[0] + "' is not base64"));
            }
        }
        return m;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }

    private static String httpDate(UploadView u) {
        return DateTimeFormatter.RFC_1123_DATE_TIME.format(u.expiresAt().atOffset(ZoneOffset.UTC));
    }
}
