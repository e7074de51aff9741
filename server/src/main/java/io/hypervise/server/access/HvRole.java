package io.hypervise.server.access;

import static io.hypervise.server.access.Permission.AUDIT_READ;
import static io.hypervise.server.access.Permission.HOST_DEVICES;
import static io.hypervise.server.access.Permission.HOST_MANAGE;
import static io.hypervise.server.access.Permission.HOST_PEER;
import static io.hypervise.server.access.Permission.HOST_READ;
import static io.hypervise.server.access.Permission.JOB_READ;
import static io.hypervise.server.access.Permission.LIBRARY_HOST_IMPORT;
import static io.hypervise.server.access.Permission.LIBRARY_READ;
import static io.hypervise.server.access.Permission.LIBRARY_WRITE;
import static io.hypervise.server.access.Permission.PLACEMENT_RATE;
import static io.hypervise.server.access.Permission.POLICY_MANAGE;
import static io.hypervise.server.access.Permission.SWITCH_MANAGE;
import static io.hypervise.server.access.Permission.TEMPLATE_MANAGE;
import static io.hypervise.server.access.Permission.TEMPLATE_READ;
import static io.hypervise.server.access.Permission.VM_CONSOLE;
import static io.hypervise.server.access.Permission.VM_CONSOLE_VIEW;
import static io.hypervise.server.access.Permission.VM_CREATE;
import static io.hypervise.server.access.Permission.VM_DELETE;
import static io.hypervise.server.access.Permission.VM_EXPORT;
import static io.hypervise.server.access.Permission.VM_MIGRATE;
import static io.hypervise.server.access.Permission.VM_OPERATE;
import static io.hypervise.server.access.Permission.VM_READ;
import static io.hypervise.server.access.Permission.VM_RECONFIGURE;
import static io.hypervise.server.access.Permission.VM_RESOURCES;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * The Keycloak realm roles and what each grants: the whole permission model on one screen.
 * Self-service users reach only the VMs they own; for them, other people's VMs do not exist.
 * Auditors read the inventory and the audit log but never see a screen (no console permission, like
 * Proxmox's PVEAuditor without VM.Console): a screen shows what the guest's users are doing.
 * Only administrators pass host block devices through: a guest on one reads and writes the host's hardware.
 * One role is no person's: {@link #HOST}, the hosts' servers calling one another, which may do nothing else.
 */
public enum HvRole {
    ADMIN("hv-admin", grants(
            HOST_READ, Reach.ALL, VM_READ, Reach.ALL, VM_CREATE, Reach.ALL, VM_OPERATE, Reach.ALL,
            VM_RECONFIGURE, Reach.ALL, VM_DELETE, Reach.ALL, VM_EXPORT, Reach.ALL, JOB_READ, Reach.ALL, AUDIT_READ, Reach.ALL,
            TEMPLATE_READ, Reach.ALL, POLICY_MANAGE, Reach.ALL, VM_CONSOLE, Reach.ALL, VM_CONSOLE_VIEW, Reach.ALL,
            SWITCH_MANAGE, Reach.ALL, LIBRARY_READ, Reach.ALL, LIBRARY_WRITE, Reach.ALL, LIBRARY_HOST_IMPORT, Reach.ALL,
            TEMPLATE_MANAGE, Reach.ALL, VM_RESOURCES, Reach.ALL, HOST_DEVICES, Reach.ALL,
            HOST_MANAGE, Reach.ALL, PLACEMENT_RATE, Reach.ALL, VM_MIGRATE, Reach.ALL)),
    OPERATOR("hv-operator", grants(
            HOST_READ, Reach.ALL, VM_READ, Reach.ALL, VM_CREATE, Reach.ALL, VM_OPERATE, Reach.ALL,
            VM_RECONFIGURE, Reach.ALL, VM_DELETE, Reach.ALL, VM_EXPORT, Reach.ALL, JOB_READ, Reach.ALL, TEMPLATE_READ, Reach.ALL,
            VM_CONSOLE, Reach.ALL, VM_CONSOLE_VIEW, Reach.ALL, LIBRARY_READ, Reach.ALL, LIBRARY_WRITE, Reach.ALL,
            TEMPLATE_MANAGE, Reach.ALL, VM_RESOURCES, Reach.ALL, PLACEMENT_RATE, Reach.ALL, VM_MIGRATE, Reach.ALL)),
    AUDITOR("hv-auditor", grants(
            HOST_READ, Reach.ALL, VM_READ, Reach.ALL, JOB_READ, Reach.ALL, AUDIT_READ, Reach.ALL, TEMPLATE_READ, Reach.ALL,
            LIBRARY_READ, Reach.ALL)),
    SELF_SERVICE("hv-self-service", grants(
            VM_READ, Reach.OWN, VM_CREATE, Reach.OWN, VM_OPERATE, Reach.OWN, VM_RECONFIGURE, Reach.OWN,
            VM_DELETE, Reach.OWN, VM_EXPORT, Reach.OWN, JOB_READ, Reach.OWN, TEMPLATE_READ, Reach.ALL,
            VM_CONSOLE, Reach.OWN, VM_CONSOLE_VIEW, Reach.OWN, LIBRARY_READ, Reach.OWN, LIBRARY_WRITE, Reach.OWN)),
    /**
     * The cluster's servers, as the service account of the confidential client {@code hypervise-host} (client
     * credentials): a server carries out on its own engine what another server decided and audited. Never given
     * to a user; it grants nothing a person uses, and no person's role grants what it does.
     */
    HOST("hypervise-host", grants(HOST_PEER, Reach.ALL));

    private final String realmRole;
    private final Map<Permission, Reach> grants;

    HvRole(String realmRole, Map<Permission, Reach> grants) {
        this.realmRole = realmRole;
        this.grants = grants;
    }

    public String realmRole() {
        return realmRole;
    }

    public Reach reach(Permission permission) {
        return grants.getOrDefault(permission, Reach.NONE);
    }

    public static Optional<HvRole> ofRealmRole(String name) {
        return Arrays.stream(values()).filter(r -> r.realmRole.equals(name)).findFirst();
    }

    private static Map<Permission, Reach> grants(Object... pairs) {
        Map<Permission, Reach> map = new EnumMap<>(Permission.class);
        for (int i = 0; i < pairs.length; i += 2) {
            map.put((Permission) pairs[i], (Reach) pairs[i + 1]);
        }
        return map;
    }
}
