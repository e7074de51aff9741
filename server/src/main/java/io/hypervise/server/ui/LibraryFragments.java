package io.hypervise.server.ui;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.library.Library;
import io.hypervise.server.library.LibraryItemView;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The library page's pieces that htmx fetches (the table's rows, one item's details) and its delete,
 * through {@link Library} as the API's are: an item in use is refused with the VMs that use it, and the
 * page shows that reason. Uploads: {@link LibraryUploads}.
 */
@Path("/ui/library")
@Produces(MediaType.TEXT_HTML)
public class LibraryFragments {

    @Inject
    CurrentCaller current;

    @Inject
    LibraryViews views;

    @Inject
    Library library;

    @GET
    @Path("rows")
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_READ)
    public TemplateInstance rows(@QueryParam("page") String page) {
        return Pages.library$rows(views.listing(current.get(), page, null));
    }

    @GET
    @Path("items/{id}")
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_READ)
    public TemplateInstance item(@PathParam("id") String id) {
        return Pages.libraryItem(views.detail(current.get(), id));
    }

    /** 204 raising {@code library-deleted} (the page closes the item's details) and the lists' refresh. */
    @POST
    @Path("items/{id}/delete")
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_WRITE)
    public Response delete(@PathParam("id") String id) {
        LibraryItemView item = library.view(current.get(), id);
        library.delete(current.get(), id);
        Map<String, Object> events = new LinkedHashMap<>();
        // htmx raises them in this order on the Delete button; library-deleted removes the button, so it comes last.
        events.put("library-changed", true);
        events.put("hv-done", "Deleted '" + item.name() + "' from the library");
        events.put("library-deleted", id);
        return Response.noContent().header("HX-Trigger", Fragments.header(events)).build();
    }
}
