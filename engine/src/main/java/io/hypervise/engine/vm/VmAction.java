package io.hypervise.engine.vm;

/** What people can ask of a VM. */
public enum VmAction {
    START("start"),
    PAUSE("pause"),
    RESUME("resume"),
    SAVE("save"),
    SHUT_DOWN("shut down"),
    TURN_OFF("turn off"),
    RESTART("restart"),
    RECONFIGURE("reconfigure"),
    DISCARD_SAVED_STATE("discard the saved state of"),
    DELETE("delete"),
    CHECKPOINT("take a checkpoint of"),
    APPLY_CHECKPOINT("apply a checkpoint to"),
    DELETE_CHECKPOINT("delete a checkpoint of"),
    RESIZE_DISK("resize a disk of"),
    ADD_DISK("add a disk to"),
    REMOVE_DISK("remove a disk from"),
    CHANGE_RESOURCES("change the resource controls of"),
    CHANGE_MEDIUM("change the CD-ROM medium of"),
    ADD_NIC("add a network adapter to"),
    REMOVE_NIC("remove a network adapter from"),
    CHANGE_VCPUS("change the vCPUs of"),
    CHANGE_MEMORY("change the memory of"),
    MIGRATE("migrate");

    private final String verb;

    VmAction(String verb) {
        this.verb = verb;
    }

    public String verb() {
        return verb;
    }
}
