package io.hypervise.server.library;

import io.hypervise.server.access.Caller;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
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
 * The tus 1.0 protocol (core, creation, termination and expiration; https://tus.io/protocols/resumable-upload)
 * over {@link Uploads}, for the two edges that speak it: the API's ({@link UploadResource}, bearer tokens)
 * and the pages' (the browser's session). Each edge says where its uploads and jobs live, so that the
 * {@code Location} and {@code Hypervise-Job} it answers lead back to itself.
 */
@ApplicationScoped
public class TusProtocol {

    public static final String TUS_VERSION = "1.0.0";
    public static final String OFFSET_OCTET_STREAM = "application/offset+octet-stream";

    @Inject
    Uploads uploads;

    /** Where an edge's uploads are ({@code /api/v1/library/uploads}) and its jobs ({@code /api/v1/jobs}). */
    public record Paths(String uploads, String jobs) {
    }

    public Response options() {
        return Response.noContent().header("Tus-Resumable", TUS_VERSION).header("Tus-Version", TUS_VERSION)
                .header("Tus-Extension", "creation,termination,expiration").build();
    }

    /** Creation: the file's length and its metadata (each value base64) become an upload, answered 201 with where it is. */
    public Response create(Caller caller, Paths paths, String tus, String length, String deferLength, String metadata) {
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
        UploadView created = uploads.create(caller, new Uploads.NewUpload(bytes, m.getOrDefault("name", m.get("filename")),
                m.get("description"), m.get("kind"), blankToNull(m.get("format")), blankToNull(m.get("sha256")),
                m.get("visibility"), groups == null || groups.isBlank() ? null : Arrays.stream(groups.split(",")).map(String::strip).toList()));
        return Response.created(URI.create(paths.uploads() + "/" + created.id())).entity(created)
                .header("Tus-Resumable", TUS_VERSION).header("Upload-Expires", httpDate(created)).build();
    }

    /** HEAD: where the upload stands, so that a client resumes from there. */
    public Response offset(Caller caller, String id, String tus) {
        checkVersion(tus);
        UploadView u = uploads.view(caller, id);
        return Response.ok().header("Tus-Resumable", TUS_VERSION).header("Upload-Offset", u.offset())
                .header("Upload-Length", u.length()).header("Upload-Expires", httpDate(u)).header("Cache-Control", "no-store").build();
    }

    /** PATCH: the body appended at {@code offset}; the last byte starts the import, whose job is named in {@code Hypervise-Job}. */
    public Response append(Caller caller, Paths paths, String id, String tus, String offset, InputStream body) throws IOException {
        checkVersion(tus);
        long from;
        try {
            from = Long.parseLong(offset == null ? "" : offset.strip());
        } catch (NumberFormatException e) {
            throw new InvalidRequestException("library upload", List.of(new FieldError("Upload-Offset",
                    "is required: the byte the body starts at, where the upload stands (HEAD tells)")));
        }
        Uploads.Appended appended = uploads.append(caller, id, from, body);
        Response.ResponseBuilder r = Response.noContent().header("Tus-Resumable", TUS_VERSION).header("Upload-Offset", appended.offset());
        if (appended.job() != null) {
            r.header("Hypervise-Job", paths.jobs() + "/" + appended.job().id());
        }
        return r.build();
    }

    /** DELETE (termination): the upload and its bytes removed. */
    public Response terminate(Caller caller, String id, String tus) {
        checkVersion(tus);
        uploads.terminate(caller, id);
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
