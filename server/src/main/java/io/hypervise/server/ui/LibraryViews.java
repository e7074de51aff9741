package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.library.ItemKind;
import io.hypervise.server.library.Library;
import io.hypervise.server.library.LibraryAccessRule;
import io.hypervise.server.library.LibraryItemView;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** What the library page and the new-VM wizard show of the library: always what {@link Library} lets the caller see. */
@ApplicationScoped
class LibraryViews {

    /** A page of the library's table. */
    static final int PAGE_SIZE = 25;
    /** The wizard offers at most this many items of each kind (by name). */
    static final int CHOICES = 200;

    @Inject
    Library library;

    @Inject
    LocalHost localHost;

    LibraryListing listing(Caller caller, String page, String item) {
        List<FieldError> v = new ArrayList<>();
        int p = QueryParameters.page(page, v);
        QueryParameters.check(v);
        var found = library.list(caller, Optional.empty(), p, PAGE_SIZE);
        List<LibraryListing.Row> rows = found.items().stream()
                .map(i -> new LibraryListing.Row(i, LibraryAccessRule.canManage(caller, i.owner()))).toList();
        return new LibraryListing(rows, found.page(), found.size(), found.total(),
                caller.reach(Permission.LIBRARY_WRITE) != Reach.NONE, caller.reach(Permission.LIBRARY_WRITE) == Reach.ALL,
                item == null || item.isBlank() ? null : detail(caller, item));
    }

    /** The item with the VMs that use it; 404 for one the caller may not see. */
    LibraryDetail detail(Caller caller, String id) {
        LibraryItemView item = library.view(caller, id);
        return new LibraryDetail(item, LibraryAccessRule.canManage(caller, item.owner()),
                caller.reach(Permission.HOST_READ) == Reach.ALL ? "/admin/vms/" : "/portal/vms/");
    }

    /** The items of a kind a new VM on this host may use: those the caller sees that lie on this host. */
    List<LibraryItemView> choices(Caller caller, ItemKind kind) {
        if (caller.reach(Permission.LIBRARY_READ) == Reach.NONE) {
            return List.of();
        }
        return library.list(caller, Optional.of(kind), 0, CHOICES).items().stream()
                .filter(i -> i.host().equals(localHost.id())).toList();
    }
}
