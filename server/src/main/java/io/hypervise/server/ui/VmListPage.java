package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;
import io.hypervise.engine.vm.VmState;
import java.util.Arrays;
import java.util.List;

/** A page of the admin console's VM list, with the filters that chose it. */
public record VmListPage(List<Row> rows, int page, int size, long total, String name, String state, String host, long stamp) {

    /** A VM in the list, what the caller may do to it (see its screen, for one), and what it uses now while it runs. */
    public record Row(VmView vm, VmOffer offer, Utilization use) {
    }

    /** The states to filter by, in the order a VM goes through them. */
    public List<String> states() {
        return Arrays.stream(VmState.values()).map(VmState::displayName).toList();
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
        return query(page - 1);
    }

    public String next() {
        return query(page + 1);
    }

    public String current() {
        return query(page);
    }

    /** The query string of this list at another page. */
    public String query(int atPage) {
        return new QueryString().and("page", atPage).and("name", name).and("state", state).and("host", host).toString();
    }
}
