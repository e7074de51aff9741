package io.hypervise.engine.vm.definition;

/**
 * The virtual hardware a guest sees. {@code ENLIGHTENED} guests have virtio drivers (the source
 * chapter's VSP/VSC pairs); {@code LEGACY} guests get emulated devices any OS of the last 25 years knows.
 */
public enum DeviceProfile {
    /** q35 machine; virtio disk, NIC, input and display. */
    ENLIGHTENED("q35"),
    /**
     * i440fx machine; IDE disks, e1000 NIC, standard VGA, PS/2 keyboard and mouse. Usually with BIOS, but
     * UEFI is allowed (OVMF runs on i440fx): a UEFI-only installer without virtio drivers needs both.
     */
    LEGACY("pc");

    private final String machineType;

    DeviceProfile(String machineType) {
        this.machineType = machineType;
    }

    public String machineType() {
        return machineType;
    }
}
