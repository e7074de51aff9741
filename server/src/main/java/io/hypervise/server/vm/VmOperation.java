package io.hypervise.server.vm;

import io.hypervise.engine.vm.VmAction;
import io.hypervise.server.access.Permission;
import io.hypervise.server.policy.SelfServiceAction;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Everything one can do to or with a VM, each named once: its path in the API ({@code POST
 * /api/v1/vms/{id}/<path>} for the lifecycle ones), its label and confirmation in the pages, the
 * engine's action, the role permission and the self-service policy action that govern it, whether it
 * runs as a job, and from those its job kind ({@code vm-<path>}) and audit name ({@code vm.<path>}).
 * Lifecycle operations are declared in the order the pages offer them.
 */
public enum VmOperation {
    START("start", "Start", null, VmAction.START, Permission.VM_OPERATE, SelfServiceAction.START, true),
    SHUT_DOWN("shut-down", "Shut down", null, VmAction.SHUT_DOWN, Permission.VM_OPERATE, SelfServiceAction.SHUT_DOWN, true),
    TURN_OFF("turn-off", "Turn off", "Turn off VM '%s'? Like pulling the plug: unsaved work in the guest is lost.",
            VmAction.TURN_OFF, Permission.VM_OPERATE, SelfServiceAction.TURN_OFF, false),
    PAUSE("pause", "Pause", null, VmAction.PAUSE, Permission.VM_OPERATE, SelfServiceAction.PAUSE, false),
    // Resuming is part of pausing, discarding a saved state part of saving, a reset part of turning off.
    RESUME("resume", "Resume", null, VmAction.RESUME, Permission.VM_OPERATE, SelfServiceAction.PAUSE, false),
    SAVE("save", "Save", null, VmAction.SAVE, Permission.VM_OPERATE, SelfServiceAction.SAVE, true),
    RESTART("restart", "Reset", "Reset VM '%s'? Like pressing the reset button: unsaved work in the guest is lost.",
            VmAction.RESTART, Permission.VM_OPERATE, SelfServiceAction.TURN_OFF, false),
    DISCARD_SAVED_STATE("discard-saved-state", "Discard saved state",
            "Discard the saved state of VM '%s'? It starts afresh next time.",
            VmAction.DISCARD_SAVED_STATE, Permission.VM_OPERATE, SelfServiceAction.SAVE, false),

    CREATE("create", "Create", null, null, Permission.VM_CREATE, null, false),
    READ("read", "Show", null, null, Permission.VM_READ, null, false),
    SERIAL("serial", "Serial console", null, null, Permission.VM_READ, null, false),
    METRICS("metrics", "Utilization", null, null, Permission.VM_READ, null, false),
    RECONFIGURE("reconfigure", "Settings", null, VmAction.RECONFIGURE, Permission.VM_RECONFIGURE,
            SelfServiceAction.RECONFIGURE, false),
    DELETE("delete", "Delete", "Delete VM '%s' and the disks created for it? This cannot be undone.", VmAction.DELETE,
            Permission.VM_DELETE,
            SelfServiceAction.DELETE, false),
    /** Watching or using the console; who may only watch is decided with it (see {@code VmAccessRule}). */
    CONSOLE("console", "Console", null, null, Permission.VM_CONSOLE, SelfServiceAction.CONSOLE, false),
    /** A thumbnail of the screen: whoever may at least watch the console. */
    SCREEN("screen", "Screen", null, null, Permission.VM_CONSOLE_VIEW, SelfServiceAction.CONSOLE_VIEW_ONLY, false),
    EXTEND_LEASE("lease.extend", "Extend lease", null, null, Permission.POLICY_MANAGE, null, false),
    /** Copy an Off VM's disks into the library and record it as a template (SCVMM's "store in library"). */
    STORE("store", "Store in library", null, null, Permission.TEMPLATE_MANAGE, null, true),
    /** Download an Off VM as one archive (its definition and disks), to import elsewhere. */
    EXPORT("export", "Export", null, null, Permission.VM_EXPORT, SelfServiceAction.EXPORT, false),
    /** Create a VM from an archive an export made: a creation, with its permission and policies. */
    IMPORT("import", "Import", null, null, Permission.VM_CREATE, null, false),
    /** Take a checkpoint (with memory of a running VM, of the disks of an Off one); renaming one is part of it. */
    CHECKPOINT("checkpoint", "Checkpoint", null, VmAction.CHECKPOINT, Permission.VM_OPERATE, SelfServiceAction.CHECKPOINT, true),
    APPLY_CHECKPOINT("checkpoint.apply", "Apply", "Apply checkpoint to VM '%s'? What it did since is lost, unless a checkpoint"
            + " holds it.", VmAction.APPLY_CHECKPOINT, Permission.VM_OPERATE, SelfServiceAction.CHECKPOINT, true),
    DELETE_CHECKPOINT("checkpoint.delete", "Delete checkpoint", null, VmAction.DELETE_CHECKPOINT, Permission.VM_OPERATE,
            SelfServiceAction.CHECKPOINT, true),
    RENAME_CHECKPOINT("checkpoint.rename", "Rename", null, null, Permission.VM_OPERATE, SelfServiceAction.CHECKPOINT, false),
    /** Grow a disk, while the VM runs or not: a change of its settings, and of its owner's disk use. */
    RESIZE_DISK("disk.resize", "Resize disk", null, VmAction.RESIZE_DISK, Permission.VM_RECONFIGURE,
            SelfServiceAction.RECONFIGURE, false),
    /** Add a disk, while the VM runs (hot-add) or not; a copy from the library is a job. */
    ADD_DISK("disk.add", "Add disk", null, VmAction.ADD_DISK, Permission.VM_RECONFIGURE, SelfServiceAction.RECONFIGURE, false),
    REMOVE_DISK("disk.remove", "Remove disk", "Remove this disk from VM '%s'? An image made for the VM is deleted with it.",
            VmAction.REMOVE_DISK, Permission.VM_RECONFIGURE, SelfServiceAction.RECONFIGURE, false),
    /** Add a network adapter, while the VM runs (hot-add) or not, on its isolated network or a switch the caller may use. */
    ADD_NIC("nic.add", "Add adapter", null, VmAction.ADD_NIC, Permission.VM_RECONFIGURE, SelfServiceAction.RECONFIGURE, false),
    REMOVE_NIC("nic.remove", "Remove adapter", "Remove this network adapter from VM '%s'? The guest loses that link at once.",
            VmAction.REMOVE_NIC, Permission.VM_RECONFIGURE, SelfServiceAction.RECONFIGURE, false),
    /** CPU weight and cap, memory reservation and balloon, disk I/O limits: the host's fairness, the administrators'. */
    SET_RESOURCES("resources", "Resource controls", null, VmAction.CHANGE_RESOURCES, Permission.VM_RESOURCES, null, false),
    /** Put a library ISO into the CD-ROM drive, while the VM runs or not (Off, a VM without a drive gets one). */
    INSERT_MEDIUM("cdrom.insert", "Insert", null, VmAction.CHANGE_MEDIUM, Permission.VM_RECONFIGURE,
            SelfServiceAction.RECONFIGURE, false),
    EJECT_MEDIUM("cdrom.eject", "Eject", null, VmAction.CHANGE_MEDIUM, Permission.VM_RECONFIGURE,
            SelfServiceAction.RECONFIGURE, false),
    /** Change the number of vCPUs, while the VM runs (hot-add, up to its maximum) or not. */
    SET_VCPUS("vcpus", "Change vCPUs", null, VmAction.CHANGE_VCPUS, Permission.VM_RECONFIGURE, SelfServiceAction.RECONFIGURE,
            false),
    /** Change its memory: while the VM runs it grows (a DIMM, up to its maximum); Off, it is set. */
    SET_MEMORY("memory", "Change memory", null, VmAction.CHANGE_MEMORY, Permission.VM_RECONFIGURE,
            SelfServiceAction.RECONFIGURE, false),
    /** Move the running (or paused) VM live to another host: operators and administrators, no self-service policy. */
    MIGRATE("migrate", "Migrate", null, VmAction.MIGRATE, Permission.VM_MIGRATE, null, true);

    private final String path;
    private final String label;
    private final String confirmation;
    private final VmAction engineAction;
    private final Permission permission;
    private final SelfServiceAction policyAction;
    private final boolean job;

    VmOperation(String path, String label, String confirmation, VmAction engineAction, Permission permission,
            SelfServiceAction policyAction, boolean job) {
        this.path = path;
        this.label = label;
        this.confirmation = confirmation;
        this.engineAction = engineAction;
        this.permission = permission;
        this.policyAction = policyAction;
        this.job = job;
    }

    /** The operations {@code POST /api/v1/vms/{id}/<path>} takes, in the order the pages offer them. */
    public static List<VmOperation> lifecycle() {
        return Arrays.stream(values()).filter(VmOperation::isLifecycle).toList();
    }

    /** The lifecycle operation at a path of the API, if there is one. */
    public static Optional<VmOperation> lifecycle(String path) {
        return lifecycle().stream().filter(o -> o.path.equals(path)).findFirst();
    }

    public boolean isLifecycle() {
        return ordinal() <= DISCARD_SAVED_STATE.ordinal();
    }

    public String path() {
        return path;
    }

    public String label() {
        return label;
    }

    /** The question the pages ask before doing it, about the named VM; null when they just do it. */
    public String confirmation(String vmName) {
        return confirmation == null ? null : confirmation.formatted(vmName);
    }

    /** The engine's action, which its state machine checks against the VM's state; null where none is. */
    public VmAction engineAction() {
        return engineAction;
    }

    public Permission permission() {
        return permission;
    }

    /** The self-service policy action that governs it; null where policies do not name it. */
    public SelfServiceAction policyAction() {
        return policyAction;
    }

    /** Whether it is long (answered 202 with a job to follow) rather than done before the answer. */
    public boolean runsAsJob() {
        return job;
    }

    public String jobKind() {
        return "vm-" + path.replace('.', '-');
    }

    public String auditName() {
        return "vm." + path;
    }

    /** What the pages say once it has begun, as in "'web-1': shut-down started". */
    public String startedMessage(String vmName) {
        return "'" + vmName + "': " + path + " started";
    }

    /** The operation a job of this kind performs, for jobs recorded by an earlier server. */
    public static Optional<VmOperation> ofJobKind(String kind) {
        return Arrays.stream(values()).filter(o -> o.jobKind().equals(kind)).findFirst();
    }
}
