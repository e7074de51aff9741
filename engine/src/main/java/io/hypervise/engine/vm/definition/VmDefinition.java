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
 * @param cdrom      the CD-ROM drive and what is in it; null when the VM has no drive. A VM that boots from an ISO
 *                   always has one: absent (a definition stored before drives were their own part), it holds the
 *                   boot image
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
        Resources resources,
        CdRom cdrom) {

    public VmDefinition {
        disks = disks == null ? List.of() : List.copyOf(disks);
        nics = nics == null ? List.of() : List.copyOf(nics);
        firmware = firmware == null ? Firmware.BIOS : firmware;
        resources = resources == null ? Resources.NONE : resources;
        if (cdrom == null && boot instanceof BootSource.Iso iso) {
            cdrom = new CdRom(iso.image());
        }
    }

    /** A VM with no CD-ROM drive, unless it boots from an ISO (then the drive holds that image). */
    public VmDefinition(String id, String name, int vcpus, int memoryMib, DeviceProfile profile, List<Disk> disks,
            List<Nic> nics, BootSource boot, Display display, Firmware firmware, Resources resources) {
        this(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, null);
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
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom);
    }

    /** The same VM with other disks. */
    public VmDefinition withDisks(List<Disk> disks) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom);
    }

    /** The same VM with another name. */
    public VmDefinition withName(String name) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom);
    }

    /** The same VM with this CD-ROM drive (null: none, which a VM booting from an ISO cannot be without). */
    public VmDefinition withCdRom(CdRom cdrom) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom);
    }
}
