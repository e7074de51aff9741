package io.hypervise.server.ui;

import io.hypervise.server.library.LibraryItemView;
import java.util.List;

/**
 * A page of the library as the caller may see it, the item whose details are open (or null), and
 * whether the caller may upload ({@code mayUpload}) and share with groups other than their own
 * ({@code anyGroup}).
 */
public record LibraryListing(List<Row> rows, int page, int size, long total, boolean mayUpload, boolean anyGroup,
        LibraryDetail selected) {

    /** An item in the table, and whether the caller may delete it. */
    public record Row(LibraryItemView item, boolean mayDelete) {
    }

    public boolean hasPrevious() {
        return page > 0;
    }

    public boolean hasNext() {
        return (long) (page + 1) * size < total;
    }

    public long first() {
        return total == 0 ? 0 : (long) page * size + 1;
    }

    public long last() {
        return Math.min(total, (long) (page + 1) * size);
    }

    public String previous() {
        return new QueryString().and("page", page - 1).toString();
    }

    public String next() {
        return new QueryString().and("page", page + 1).toString();
    }

    public String current() {
        return new QueryString().and("page", page).toString();
    }
}
