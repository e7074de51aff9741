package io.hypervise.server.library;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.jobs.Accepted;
import io.hypervise.server.jobs.JobView;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The library's items over HTTP: list, detail, delete, and (administrators) import from the host. Uploads: {@link UploadResource}. */
@Path("/api/v1/library")
@Produces(MediaType.APPLICATION_JSON)
public class LibraryResource {

    @Inject
    Library library;

    @Inject
    CurrentCaller current;

    public record Page(List<LibraryItemView> items, int page, int size, long total) {
    }

    @GET
    @Requires(Permission.LIBRARY_READ)
    public Page list(@QueryParam("kind") String kind, @QueryParam("page") String page, @QueryParam("size") String size) {
        List<FieldError> v = new ArrayList<>();
        Optional<ItemKind> k = kind == null ? Optional.empty() : ItemKind.of(kind);
        if (kind != null && k.isEmpty()) {
            v.add(new FieldError("kind", "must be iso or disk; got '" + kind + "'"));
        }
        int p = QueryParameters.page(page, v);
        int s = QueryParameters.size(size, v);
        QueryParameters.check(v);
        var found = library.list(current.get(), k, p, s);
        return new Page(found.items(), found.page(), found.size(), found.total());
    }

    @GET
    @Path("{id}")
    @Requires(Permission.LIBRARY_READ)
    public LibraryItemView get(@PathParam("id") String id) {
        return library.view(current.get(), id);
    }

    /**
     * The item's bytes: as kept, or a disk image as a VHD for Hyper-V ({@code ?format=vhd} dynamic,
     * {@code vhd-fixed}), streamed from a file (a VHD is written first, then sent, then removed).
     */
    @GET
    @Path("{id}/content")
    @Produces(MediaType.APPLICATION_OCTET_STREAM)
    @Requires(Permission.LIBRARY_READ)
    public Response content(@PathParam("id") String id, @QueryParam("format") String format) throws java.io.IOException {
        Library.Content content = library.content(current.get(), id, format);
        jakarta.ws.rs.core.StreamingOutput body = out -> {
            try {
                java.nio.file.Files.copy(content.file(), out);
            } finally {
                if (content.temporary()) {
                    java.nio.file.Files.deleteIfExists(content.file());
                }
            }
        };
        return Response.ok(body, content.mediaType()).header("Content-Length", java.nio.file.Files.size(content.file()))
                .header("Content-Disposition", "attachment; filename=\"" + content.fileName() + "\"").build();
    }

    @DELETE
    @Path("{id}")
    @Requires(Permission.LIBRARY_WRITE)
    public Response delete(@PathParam("id") String id) {
        library.delete(current.get(), id);
        return Response.noContent().build();
    }

    /** Imports a file already on the host (inside a configured import folder), as a job. */
    @POST
    @Path("imports")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.LIBRARY_HOST_IMPORT)
    public Response importFromHost(Library.HostImport request) {
        JobView job = library.importFromHost(current.get(), request);
        return Accepted.job(job);
    }
}
