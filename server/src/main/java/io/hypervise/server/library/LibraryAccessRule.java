package io.hypervise.server.library;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import java.util.Arrays;

/**
 * Who may see (and so deploy from) a library item, and who may change or delete it: the one place that
 * says so, asked by the API, the pages and VM creation alike. Pure.
 */
public final class LibraryAccessRule {

    private LibraryAccessRule() {
    }

    /** Whether the caller may see and use the item: its owner, whoever reads the whole library, or its audience. */
    public static boolean canSee(Caller caller, String owner, Visibility visibility, String[] groups) {
        Reach reach = caller.reach(Permission.LIBRARY_READ);
        if (reach == Reach.NONE) {
            return false;
        }
        if (reach == Reach.ALL || caller.username().equals(owner)) {
            return true;
        }
        return switch (visibility) {
            case EVERYONE -> true;
            case GROUPS -> Arrays.stream(groups).anyMatch(caller.groups()::contains);
            case ADMINS -> false;
        };
    }

    public static boolean canSee(Caller caller, LibraryItemEntity item) {
        return canSee(caller, item.owner, item.visibility, item.groups);
    }

    /** Whether the caller may delete the item or the upload, or change who sees it: its owner within their reach, or an administrator. */
    public static boolean canManage(Caller caller, String owner) {
        return switch (caller.reach(Permission.LIBRARY_WRITE)) {
            case ALL -> true;
            case OWN -> caller.username().equals(owner);
            case NONE -> false;
        };
    }
}
