package io.hypervise.engine.vm.definition;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.List;

/**
 * Everything the engine needs to run a VM. Validated by {@link VmDefinitionValidator} before the
 * engine accepts it. The serial console is always captured to the VM's serial log.
 *
 * @param id         the engine's stable identifier: lower-case letters, digits and dashes
 * @param name       what people call the VM
 * @param vcpus      the vCPUs it has now (those added while it ran included)
 * @param memoryMib  guest RAM in MiB, all of it: the memory it started with and the DIMMs added while it ran
 * @param firmware   BIOS or UEFI; absent (a definition stored before VMs had a choice) means BIOS
 * @param resources  CPU, memory and disk I/O controls; absent means none
 * @param cdrom      the CD-ROM drive and what is in it; null when the VM has no drive. A VM that boots from an ISO
 *                   always has one: absent (a definition stored before drives were their own part), it holds the
 *                   boot image
 * @param maxVcpus   the most vCPUs it may have while it runs ({@code -smp maxcpus}); absent: as many as it has,
 *                   none can be added while it runs
 * @param maxMemoryMib the most memory it may have while it runs ({@code -m maxmem}; enlightened profile); absent:
 *                   as much as it has, none can be added while it runs
 * @param memoryDimmsMib the size of each DIMM added while it ran (pc-dimm {@code dimm<k>}), in the order added: part of
 *                   its memory. A worker that restores its state needs them on its command line; they become one
 *                   block again when its memory is changed while it is Off
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
        CdRom cdrom,
        Integer maxVcpus,
        Integer maxMemoryMib,
        List<Integer> memoryDimmsMib) {

    /** How many DIMMs a VM with room for memory added while it runs has ({@code -m slots}). */
    public static final int MEMORY_SLOTS = 8;
    /** Memory is added while a VM runs in steps of this size: Linux onlines memory in 128 MiB blocks on x86-64. */
    public static final int MEMORY_STEP_MIB = 128;

    public VmDefinition {
        disks = disks == null ? List.of() : List.copyOf(disks);
        memoryDimmsMib = memoryDimmsMib == null ? List.of() : List.copyOf(memoryDimmsMib);
        nics = nics == null ? List.of() : List.copyOf(nics);
        firmware = firmware == null ? Firmware.BIOS : firmware;
        resources = resources == null ? Resources.NONE : resources;
        if (cdrom == null && boot instanceof BootSource.Iso iso) {
            cdrom = new CdRom(iso.image());
        }
    }

    /** A VM that cannot grow while it runs: its vCPUs and memory are their own maximums. */
    public VmDefinition(String id, String name, int vcpus, int memoryMib, DeviceProfile profile, List<Disk> disks,
            List<Nic> nics, BootSource boot, Display display, Firmware firmware, Resources resources, CdRom cdrom) {
        this(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom, null, null, null);
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
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The same VM with other disks. */
    public VmDefinition withDisks(List<Disk> disks) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The same VM with another name. */
    public VmDefinition withName(String name) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The same VM with this CD-ROM drive (null: none, which a VM booting from an ISO cannot be without). */
    public VmDefinition withCdRom(CdRom cdrom) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The same VM with other network adapters. */
    public VmDefinition withNics(List<Nic> nics) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The same VM with {@code vcpus} vCPUs. */
    public VmDefinition withVcpus(int vcpus) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The same VM with {@code memoryMib} of memory, of which the DIMMs {@code memoryDimmsMib} were added while it ran. */
    public VmDefinition withMemory(int memoryMib, List<Integer> memoryDimmsMib) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The same VM with other maximums (null: what it has). */
    public VmDefinition withMaximums(Integer maxVcpus, Integer maxMemoryMib) {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, resources, cdrom,
                maxVcpus, maxMemoryMib, memoryDimmsMib);
    }

    /** The most vCPUs it may have while it runs. */
    @JsonIgnore
    public int vcpuLimit() {
        return maxVcpus == null ? vcpus : Math.max(maxVcpus, vcpus);
    }

    /** The most memory it may have while it runs, in MiB. */
    @JsonIgnore
    public int memoryLimitMib() {
        return maxMemoryMib == null ? memoryMib : Math.max(maxMemoryMib, memoryMib);
    }

    /** The memory it starts with before any DIMM added while it ran ({@code -m size}), in MiB. */
    @JsonIgnore
    public int baseMemoryMib() {
        return memoryMib - memoryDimmsMib.stream().mapToInt(Integer::intValue).sum();
    }

    /** Whether its worker has room for vCPUs added while it runs. */
    @JsonIgnore
    public boolean cpuHotplug() {
        return vcpuLimit() > vcpus;
    }

    /** Whether its worker has DIMM slots for memory added while it runs (or holds DIMMs added so). */
    @JsonIgnore
    public boolean memoryHotplug() {
        return memoryLimitMib() > memoryMib || !memoryDimmsMib.isEmpty();
    }
}
