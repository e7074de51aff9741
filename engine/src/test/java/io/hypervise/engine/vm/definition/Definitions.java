package io.hypervise.engine.vm.definition;

import java.nio.file.Path;
import java.util.List;

/** Test data that reads like the domain: {@code aVm().withMemory(256).build()}. */
public final class Definitions {

    private String id = "web-1";
    private String name = "web 1";
    private int vcpus = 1;
    private int memoryMib = 256;
    private DeviceProfile profile = DeviceProfile.ENLIGHTENED;
    private List<Disk> disks = List.of();
    private List<Nic> nics = List.of();
    private BootSource boot;
    private Display display = Display.VNC;
    private Firmware firmware = Firmware.BIOS;
    private CdRom cdrom;
    private Integer maxVcpus;
    private Integer maxMemoryMib;
    private List<Integer> memoryDimmsMib = List.of();

    private Definitions(BootSource boot) {
        this.boot = boot;
    }

    public static Definitions aVm(BootSource boot) {
        return new Definitions(boot);
    }

    public static Definitions aKernelVm(Path kernel, Path initramfs, String cmdline) {
        return new Definitions(new BootSource.Kernel(kernel, initramfs, cmdline));
    }

    public Definitions withId(String value) {
        this.id = value;
        return this;
    }

    public Definitions withName(String value) {
        this.name = value;
        return this;
    }

    public Definitions withVcpus(int value) {
        this.vcpus = value;
        return this;
    }

    public Definitions withMemory(int mib) {
        this.memoryMib = mib;
        return this;
    }

    public Definitions legacy() {
        this.profile = DeviceProfile.LEGACY;
        return this;
    }

    public Definitions withDisks(Disk... value) {
        this.disks = List.of(value);
        return this;
    }

    public Definitions withNics(Nic... value) {
        this.nics = List.of(value);
        return this;
    }

    public Definitions withDisplay(Display value) {
        this.display = value;
        return this;
    }

    public Definitions uefi() {
        this.firmware = Firmware.UEFI;
        return this;
    }

    public Definitions bootingFrom(BootSource value) {
        this.boot = value;
        return this;
    }

    /** A CD-ROM drive holding {@code medium}, or empty when it is null. */
    public Definitions withCdRom(Path medium) {
        this.cdrom = new CdRom(medium);
        return this;
    }

    /** Room to grow while it runs: up to {@code vcpus} vCPUs and {@code memoryMib} of memory (null: none). */
    public Definitions withMaximums(Integer vcpus, Integer memoryMib) {
        this.maxVcpus = vcpus;
        this.maxMemoryMib = memoryMib;
        return this;
    }

    /** DIMMs of these sizes added while it ran (part of its memory). */
    public Definitions withDimms(Integer... mib) {
        this.memoryDimmsMib = List.of(mib);
        return this;
    }

    public VmDefinition build() {
        return new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware, Resources.NONE,
                cdrom, maxVcpus, maxMemoryMib, memoryDimmsMib);
    }
}
