package io.hypervise.server.access;

import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Who is asking: the signed-in user, their Hypervise roles and groups (from Keycloak's token), and
 * where the request came from.
 */
public record Caller(String username, Set<HvRole> roles, Set<String> groups, String address) {

    public static final String ANONYMOUS = "anonymous";

    /** The name under which the host itself acts and owns VMs (the demo VM, VMs found without a record). */
    public static final String HOST = "system";

    private static final Caller THE_HOST = new Caller(HOST, Set.of(), Set.of(), "127.0.0.1");

    /** The host itself, for what the server does on its own (the demo VM, reconciliation, leases). */
    public static Caller host() {
        return THE_HOST;
    }

    /** Whether this is the host acting on its own: no request makes this caller, whatever its name. */
    public boolean isHost() {
        return this == THE_HOST;
    }

    public Caller {
        roles = Set.copyOf(roles);
        groups = Set.copyOf(groups);
    }

    public static Caller of(String username, Set<String> realmRoles, Set<String> groups, String address) {
        Set<HvRole> roles = realmRoles.stream()
                .flatMap(r -> HvRole.ofRealmRole(r).stream())
                .collect(Collectors.toSet());
        return new Caller(username, roles, groups, address);
    }

    /** The widest reach any of the caller's roles gives for the permission. */
    public Reach reach(Permission permission) {
        return REACHES.computeIfAbsent(roles, Caller::reaches).get(permission);
    }

    /** Each permission's widest reach, per set of roles: asked many times for every VM a page lists. */
    private static final Map<Set<HvRole>, Map<Permission, Reach>> REACHES = new ConcurrentHashMap<>();

    private static Map<Permission, Reach> reaches(Set<HvRole> roles) {
        Map<Permission, Reach> reach = new EnumMap<>(Permission.class);
        for (Permission p : Permission.values()) {
            reach.put(p, roles.stream().map(r -> r.reach(p)).reduce(Reach.NONE, Reach::widest));
        }
        return reach;
    }

    /** Whether the caller may use the permission on something {@code owner} owns. */
    public Decision decide(Permission permission, String owner) {
        return switch (reach(permission)) {
            case ALL -> Decision.allow();
            case OWN -> username.equals(owner)
                    ? Decision.allow()
                    : Decision.deny(username + " may " + permission.description() + " only for their own VMs");
            case NONE -> Decision.deny(username + " has no role that may " + permission.description()
                    + " (roles: " + describeRoles() + ")");
        };
    }

    public String describeRoles() {
        return roles.isEmpty() ? "none" : roles.stream().map(HvRole::realmRole).sorted().collect(Collectors.joining(", "));
    }
}
