package io.hypervise.server.vm;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.inventory.VmCursor;
import io.hypervise.server.inventory.VmFilter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A request for a page of VMs, as the API and the admin console's list take it: checked, every broken rule
 * named. A page is asked for by number ({@code page}, from 0) or as the one after a cursor a page gave
 * ({@code after}, its {@code next}): a keyset, which costs the same at any depth.
 */
public record VmQuery(VmFilter filter, int page, int size, Optional<VmCursor> after) {

    public VmQuery(VmFilter filter, int page, int size) {
        this(filter, page, size, Optional.empty());
    }

    /** The query the parameters ask for; a 400 naming each parameter that breaks its rule. */
    public static VmQuery parse(String owner, String state, String name, String page, String size) {
        return parse(owner, state, name, page, size, null);
    }

    /** The query the parameters ask for; a 400 naming each parameter that breaks its rule. */
    public static VmQuery parse(String owner, String state, String name, String page, String size, String after) {
        List<FieldError> violations = new ArrayList<>();
        int p = QueryParameters.page(page, violations);
        int s = QueryParameters.size(size, violations);
        Optional<VmCursor> cursor = Optional.empty();
        if (after != null) {
            cursor = VmCursor.decode(after);
            if (cursor.isEmpty()) {
                violations.add(new FieldError("after", "must be the 'next' of a page of this list; got '"
                        + (after.length() > 100 ? after.substring(0, 100) + "…" : after) + "'"));
            } else if (page != null && !page.isBlank()) {
                violations.add(new FieldError("after", "asks for the page after a cursor, and page for a page by number:"
                        + " give one of them"));
            }
        }
        Optional<VmState> wanted = Optional.ofNullable(state).flatMap(value -> state(value, violations));
        QueryParameters.text("owner", owner, 255, violations);
        QueryParameters.text("name", name, 64, violations);
        QueryParameters.check(violations);
        return new VmQuery(new VmFilter(Optional.ofNullable(owner), wanted, Optional.ofNullable(name)), p, s, cursor);
    }

    private static Optional<VmState> state(String value, List<FieldError> violations) {
        Optional<VmState> found = Arrays.stream(VmState.values())
                .filter(s -> s.displayName().equalsIgnoreCase(value) || s.name().equalsIgnoreCase(value))
                .findFirst();
        if (found.isEmpty()) {
            violations.add(new FieldError("state", "must be one of "
                    + Arrays.stream(VmState.values()).map(VmState::displayName).toList() + "; got '" + value + "'"));
        }
        return found;
    }
}
