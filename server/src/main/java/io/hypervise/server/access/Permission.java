package io.hypervise.server.access;

/** What an endpoint needs. How far a caller may use it (their own VMs, or all) is a {@link Reach}. */
public enum Permission {
    HOST_READ("read hosts"),
    /** Remove hosts from the cluster, put them into and out of maintenance, and set how placement rates hosts. */
    HOST_MANAGE("manage the cluster's hosts"),
    /** Rate every host for a VM, described or existing, with the reasons of each rating (placement's what-if). */
    PLACEMENT_RATE("rate hosts for VMs"),
    VM_READ("read VMs"),
    VM_CREATE("create VMs"),
    VM_OPERATE("operate VMs"),
    /** Move a running VM live to another host of the cluster: where VMs run is the operators' decision. */
    VM_MIGRATE("migrate VMs between hosts"),
    VM_RECONFIGURE("change VM settings"),
    VM_DELETE("delete VMs"),
    /** Set a VM's CPU weight and cap, memory reservation and balloon, and disk I/O limits: the host's fairness. */
    VM_RESOURCES("set VM resource controls"),
    /** Download a VM with its disks as an archive: everything in its guest leaves with it. */
    VM_EXPORT("export VMs"),
    /** Watch and use a VM's console: its screen, keyboard and mouse. */
    VM_CONSOLE("connect to VM consoles"),
    /** Watch a VM's console (and its thumbnail) without any input reaching the guest. */
    VM_CONSOLE_VIEW("watch VM consoles"),
    JOB_READ("read jobs"),
    TEMPLATE_READ("read templates"),
    /** Make templates, for example by storing a VM in the library. */
    TEMPLATE_MANAGE("manage templates"),
    AUDIT_READ("read the audit log"),
    POLICY_MANAGE("manage roles and policies"),
    /** Create and delete the host's virtual switches, and plug VMs' adapters into them. */
    SWITCH_MANAGE("manage virtual switches"),
    /** See library items: those visible to the caller (OWN), or all of them (ALL). */
    LIBRARY_READ("read the library"),
    /** Upload to the library, and delete or share items: one's own (OWN), or anyone's (ALL). */
    LIBRARY_WRITE("add to and remove from the library"),
    /** Bring a file that is already on the host into the library: it reads the host's file system. */
    LIBRARY_HOST_IMPORT("import host files into the library"),
    /** Give a VM a whole block device of the host (pass-through): the guest reads and writes the host's hardware. */
    HOST_DEVICES("pass host block devices through to VMs"),
    /**
     * Carry out, on this host's engine, an operation another host's server has decided on (the internal API,
     * {@code /api/v1/internal}): the hosts' service identity alone holds it ({@link HvRole#HOST}), no person's role.
     */
    HOST_PEER("carry out operations for the cluster's other servers");

    private final String description;

    Permission(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
