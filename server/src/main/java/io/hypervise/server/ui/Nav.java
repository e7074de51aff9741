package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import java.util.ArrayList;
import java.util.List;

/**
 * The top bar of every page: who is signed in, and the places their roles lead to. A place the
 * caller may not use is not shown.
 */
public record Nav(String username, String roles, List<Link> links, boolean signedIn) {

    public record Link(String href, String label, boolean current) {
    }

    public static Nav of(Caller caller, String currentPath) {
        if (caller.username().equals(Caller.ANONYMOUS)) {
            return new Nav(null, null, List.of(), false);
        }
        List<Link> links = new ArrayList<>();
        add(links, currentPath, "/admin", "Virtual machines", caller.reach(Permission.HOST_READ) == Reach.ALL);
        add(links, currentPath, "/portal", "My VMs", caller.reach(Permission.VM_CREATE) == Reach.OWN);
        add(links, currentPath, "/admin/library", "Library", caller.reach(Permission.LIBRARY_READ) != Reach.NONE);
        add(links, currentPath, "/admin/jobs", "Jobs", caller.reach(Permission.JOB_READ) == Reach.ALL);
        add(links, currentPath, "/admin/audit", "Audit log", caller.reach(Permission.AUDIT_READ) == Reach.ALL);
        add(links, currentPath, "/admin/policies", "Policies", caller.reach(Permission.POLICY_MANAGE) == Reach.ALL);
        return new Nav(caller.username(), caller.describeRoles(), links, true);
    }

    /** Where a signed-in caller starts: the admin console, the portal, or nowhere (no role). */
    public static String home(Caller caller) {
        if (caller.reach(Permission.HOST_READ) == Reach.ALL) {
            return "/admin";
        }
        return caller.reach(Permission.VM_READ) == Reach.OWN ? "/portal" : null;
    }

    private static void add(List<Link> links, String currentPath, String href, String label, boolean allowed) {
        if (allowed) {
            links.add(new Link(href, label, href.equals(currentPath)));
        }
    }
}
