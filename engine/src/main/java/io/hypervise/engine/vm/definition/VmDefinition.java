package io.hypervise.engine.vm.definition;

import java.util.List;

/**
 * Everything the engine needs to run a VM. Validated by {@link VmDefinitionValidator} before the
 * engine accepts it. The serial console is always captured to the VM's serial log.
 *
 * @param id         the engine's stable identifier: lower-case letters, digits and dashes
 * @param name       what people call the VM
 * @param memoryMib  guest RAM in MiB
 * @param firmware   BIOS or UEFI; absent (a definition stored before VMs had a choice) means BIOS
 * @param resources  CPU, memory and disk I/O controls; absent means none
 */
public record VmDefinition(
        String id,
        String name,
        int vcpus,
        int memoryMib,
        DeviceProfile profile,
        List<Disk> disks,
        List<Nic> nics,
        BootSource boot,
        Display display,
        Firmware firmware,
        Resources resources) {

    public VmDefinition {
        disks = disks == null ? List.of() : List.copyOf(disks);
        nics = nics == null ? List.of() : List.copyOf(nics);
        firmware = firmware == null ? Firmware.BIOS : firmware;
        resources = resources == null ? Resources.NONE : resources;
    }

    /** A VM without resource controls. */
    public VmDefinition(String id, String name, int vcpus, int memoryMib, DeviceProfile profile, List<Disk> disks,
            List<Nic> nics, BootSource boot, Display display, Firmware firmware) {
        this(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, Resources.NONE);
    }

    /** A BIOS VM, as every VM was before the firmware could be chosen. */
    public VmDefinition(String id, String name, int vcpus, int memoryMib, DeviceProfile profile, List<Disk> disks,
            List<Nic> nics, BootSource boot, Display display) {
        this(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, Firmware.BIOS);
    }

    /** The same VM with other resource controls. */
    public VmDefinition withResources(Resources resources) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources);
    }
}
