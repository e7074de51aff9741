package io.hypervise.engine.vm.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervise.engine.host.Accelerator;
import io.hypervise.engine.host.UefiFirmware;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * Builds the argument list of one VM's QEMU worker. Always a list, never a shell string. Disks are
 * given as JSON {@code -blockdev} objects, so file names need no escaping and every format is explicit.
 * The worker starts paused ({@code -S}); the engine resumes it over QMP once it is supervised.
 */
public final class QemuCommandLine {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** QOM path /machine/peripheral/balloon0: where the counters read the guest's memory statistics. */
    public static final String BALLOON_ID = "balloon0";
    /** The throttle group all of a VM's disks share: its disk I/O limits are for them together. */
    public static final String THROTTLE_GROUP = "vm-io";

    /** The UEFI firmware's block nodes, which the machine maps as its two flash chips. */
    public static final String FIRMWARE_CODE_NODE = "firmware-code";
    public static final String FIRMWARE_VARS_NODE = "firmware-vars";

    private final Path qemuBinary;
    private final Accelerator accelerator;
    private final Optional<UefiFirmware> uefi;

    /** For a host without UEFI firmware: every VM boots with BIOS. */
    public QemuCommandLine(Path qemuBinary, Accelerator accelerator) {
        this(qemuBinary, accelerator, Optional.empty());
    }

    public QemuCommandLine(Path qemuBinary, Accelerator accelerator, Optional<UefiFirmware> uefi) {
        this.qemuBinary = qemuBinary;
        this.accelerator = accelerator;
        this.uefi = uefi;
    }

    /**
     * @param def      a validated definition
     * @param resolve  maps a definition's path to its checked absolute form under the storage root
     * @param incoming whether the worker waits for a saved state to be loaded ({@code -incoming defer})
     */
    public List<String> build(VmDefinition def, VmFiles files, UnaryOperator<Path> resolve, boolean incoming) {
        List<String> args = new ArrayList<>();
        args.add(qemuBinary.toString());
        args.addAll(List.of("-name", "guest=" + workerName(def.id()) + ",debug-threads=on"));
        args.addAll(List.of("-machine", machine(def)));
        addFirmware(def, files, args);
        args.addAll(List.of("-accel", accelerator.qemuName()));
        args.addAll(List.of("-cpu", accelerator == Accelerator.KVM ? "host" : "max"));
        args.addAll(List.of("-smp", smp(def)));
        args.addAll(List.of("-m", memory(def)));
        addDimms(def, args);
        args.addAll(List.of("-nodefaults", "-no-user-config", "-S"));
        args.addAll(List.of("-msg", "timestamp=on"));
        args.addAll(List.of("-qmp", "unix:" + QemuArgs.optionValue(files.qmpSocket().toString()) + ",server=on,wait=off"));
        args.addAll(List.of("-chardev", "file,id=serial0,append=on,path=" + QemuArgs.optionValue(files.serialLog().toString())));
        args.addAll(List.of("-serial", "chardev:serial0"));
        addDisplay(def, files, args);
        addInput(def, args);
        addDisks(def, resolve, args);
        addNics(def, args);
        addBalloon(def, args);
        addBoot(def, resolve, args);
        addCdRom(def, resolve, args);
        addHotplugPorts(def, args);
        if (incoming) {
            args.addAll(List.of("-incoming", "defer"));
        }
        return args;
    }

    /**
     * The vCPUs it has, and room for those it may get while it runs. QEMU creates the first {@code vcpus} of the
     * {@code maxcpus} slots, in slot order; vCPUs added while it ran fill the next slots in that order (see
     * {@code Vms.setVcpus}), so a worker that restores a saved state has the same vCPUs in the same slots.
     */
    static String smp(VmDefinition def) {
        return def.cpuHotplug() ? def.vcpus() + ",maxcpus=" + def.vcpuLimit() : Integer.toString(def.vcpus());
    }

    /** The memory it starts with, and DIMM slots and room up to its maximum for memory added while it runs. */
    static String memory(VmDefinition def) {
        return def.memoryHotplug()
                ? def.baseMemoryMib() + "M,slots=" + VmDefinition.MEMORY_SLOTS + ",maxmem=" + def.memoryLimitMib() + "M"
                : def.memoryMib() + "M";
    }

    /** The id of DIMM {@code k} (pc-dimm), added while the VM ran; its memory backend is {@link #dimmMemory}. */
    public static String dimmDevice(int k) {
        return "dimm" + k;
    }

    /** The id of the memory backend of DIMM {@code k}: QEMU names the DIMM's RAM by it in a saved state. */
    public static String dimmMemory(int k) {
        return "mem-dimm" + k;
    }

    /** The DIMMs added while it ran, as they were added: a saved state's memory has each under its backend's id. */
    private static void addDimms(VmDefinition def, List<String> args) {
        for (int k = 0; k < def.memoryDimmsMib().size(); k++) {
            args.addAll(List.of("-object", "memory-backend-ram,id=" + dimmMemory(k) + ",size=" + def.memoryDimmsMib().get(k) + "M"));
            args.addAll(List.of("-device", "pc-dimm,id=" + dimmDevice(k) + ",memdev=" + dimmMemory(k)));
        }
    }

    /** The accelerator workers run with (a confined worker using KVM keeps the group that opens /dev/kvm). */
    public Accelerator accelerator() {
        return accelerator;
    }

    /** The name the worker carries on its command line; how a re-attaching engine recognises it. */
    public static String workerName(String vmId) {
        return "hypervise-" + vmId;
    }

    /** BIOS is QEMU's default; UEFI is OVMF in the machine's flash: code first, then the VM's variables. */
    private static String machine(VmDefinition def) {
        return def.firmware() == Firmware.UEFI
                ? def.profile().machineType() + ",pflash0=" + FIRMWARE_CODE_NODE + ",pflash1=" + FIRMWARE_VARS_NODE
                : def.profile().machineType();
    }

    /** The code is opened read-only; the variables are the VM's own copy, which OVMF writes. */
    private void addFirmware(VmDefinition def, VmFiles files, List<String> args) {
        if (def.firmware() != Firmware.UEFI) {
            return;
        }
        UefiFirmware firmware = uefi.orElseThrow(() -> new IllegalStateException(
                "VM " + def.id() + " boots with UEFI, but this host has no UEFI firmware"));
        args.addAll(List.of("-blockdev", blockdev(FIRMWARE_CODE_NODE, DiskFormat.RAW, firmware.code(), true, null)));
        args.addAll(List.of("-blockdev", blockdev(FIRMWARE_VARS_NODE, DiskFormat.RAW, files.uefiVariables(), false, null)));
    }

    private static void addDisplay(VmDefinition def, VmFiles files, List<String> args) {
        args.addAll(List.of("-display", "none"));
        if (def.display() == Display.NONE) {
            return;
        }
        args.addAll(List.of("-device", def.profile() == DeviceProfile.ENLIGHTENED ? "virtio-vga" : "VGA"));
        args.addAll(List.of("-vnc", "unix:" + QemuArgs.optionValue(files.vncSocket().toString())));
    }

    private static void addInput(VmDefinition def, List<String> args) {
        if (def.display() == Display.NONE) {
            return;
        }
        // Both machine types have a PS/2 keyboard and mouse; the enlightened profile adds an absolute
        // pointer so the console's mouse needs no grabbing.
        if (def.profile() == DeviceProfile.ENLIGHTENED) {
            args.addAll(List.of("-device", "virtio-tablet-pci", "-device", "virtio-keyboard-pci"));
        }
    }

    /** How many empty PCI Express ports an enlightened VM has for disks and adapters added while it runs. */
    public static final int HOTPLUG_PORTS = 4;

    /** The device id of a disk known by {@code node}: how it is removed while the VM runs. */
    public static String diskDevice(String node) {
        return "dev-" + node;
    }

    /**
     * The guest device that holds the disk's block backend, as QMP's {@code block_set_io_throttle} names it: an
     * IDE disk is its own; a virtio one's is the virtio device inside its PCI proxy.
     */
    public static String diskBackendDevice(String node, DeviceProfile profile) {
        return profile == DeviceProfile.ENLIGHTENED ? "/machine/peripheral/" + diskDevice(node) + "/virtio-backend"
                : diskDevice(node);
    }

    /** The empty ports, after every other device so that nothing else moves: {@code hotplug0} and on. */
    private static void addHotplugPorts(VmDefinition def, List<String> args) {
        if (def.profile() != DeviceProfile.ENLIGHTENED) {
            return;
        }
        for (int k = 0; k < HOTPLUG_PORTS; k++) {
            args.addAll(List.of("-device", "pcie-root-port,id=hotplug" + k + ",chassis=" + (100 + k)));
        }
    }

    /**
     * Disks: on the enlightened profile each virtio disk sits on a PCI Express root port of its own (as
     * libvirt lays out q35), so that any of them can be removed while the guest runs; on the legacy one,
     * IDE, which cannot.
     */
    private static void addDisks(VmDefinition def, UnaryOperator<Path> resolve, List<String> args) {
        List<Disk> disks = def.disks();
        for (int i = 0; i < disks.size(); i++) {
            Disk disk = disks.get(i);
            String node = disk.nodeName(i);
            diskBlockdevs(disk, node, resolve).forEach(blockdev -> args.addAll(List.of("-blockdev", blockdev)));
            String bootIndex = i == 0 && def.boot() instanceof BootSource.FirstDisk ? ",bootindex=1" : "";
            String device;
            if (def.profile() == DeviceProfile.ENLIGHTENED) {
                args.addAll(List.of("-device", "pcie-root-port,id=port-" + node + ",chassis=" + (i + 1)));
                device = "virtio-blk-pci,drive=" + node + ",id=" + diskDevice(node) + ",bus=port-" + node;
            } else {
                device = "ide-hd,drive=" + node + ",id=" + diskDevice(node) + ",bus=ide." + (i / 2) + ",unit=" + (i % 2);
            }
            args.addAll(List.of("-device", device + bootIndex));
        }
    }

    /**
     * Adapters: on the enlightened profile each virtio adapter sits on a PCI Express root port of its own, as
     * disks do, so that any of them can be removed while the guest runs; on the legacy one, e1000 on the PCI bus.
     */
    private static void addNics(VmDefinition def, List<String> args) {
        List<Nic> nics = def.nics();
        for (int i = 0; i < nics.size(); i++) {
            Nic nic = nics.get(i);
            String netdev = nic.nodeName(i);
            // A switch port is a tap device the engine made and plugged in before the worker started.
            args.addAll(List.of("-netdev", nicNetdev(def.id(), nic, i)));
            String options = ",netdev=" + netdev + ",mac=" + nic.mac() + ",id=" + Nic.device(netdev);
            if (def.profile() == DeviceProfile.ENLIGHTENED) {
                args.addAll(List.of("-device", "pcie-root-port,id=port-" + netdev + ",chassis=" + (NIC_CHASSIS + nic.slot(i))));
                args.addAll(List.of("-device", "virtio-net-pci" + options + ",bus=port-" + netdev));
            } else {
                args.addAll(List.of("-device", "e1000" + options));
            }
        }
    }

    /** Where the adapters' root ports are numbered from (disks' are 1 and on, the hot-plug ports' 100 and on). */
    private static final int NIC_CHASSIS = 64;

    /**
     * The netdev of adapter {@code position}, as {@code -netdev} or QMP's {@code netdev_add} takes it: the
     * switch port's tap device (which the engine makes), or the isolated user-mode network.
     */
    public static String nicNetdev(String vmId, Nic nic, int position) {
        String netdev = nic.nodeName(position);
        return nic.onSwitch()
                ? "tap,id=" + netdev + ",ifname=" + VirtualSwitches.portName(vmId, nic.slot(position)) + ",script=no,downscript=no"
                : "user,id=" + netdev + ",restrict=on";
    }

    /**
     * The enlightened profile's guests report their own memory use through the virtio balloon's
     * statistics (the counters read them); the balloon is never inflated.
     */
    private static void addBalloon(VmDefinition def, List<String> args) {
        if (def.profile() == DeviceProfile.ENLIGHTENED) {
            args.addAll(List.of("-device", "virtio-balloon-pci,id=" + BALLOON_ID));
        }
    }

    private static void addBoot(VmDefinition def, UnaryOperator<Path> resolve, List<String> args) {
        switch (def.boot()) {
            case BootSource.Kernel k -> {
                args.addAll(List.of("-kernel", resolve.apply(k.kernel()).toString()));
                if (k.initramfs() != null) {
                    args.addAll(List.of("-initrd", resolve.apply(k.initramfs()).toString()));
                }
                if (k.commandLine() != null && !k.commandLine().isEmpty()) {
                    args.addAll(List.of("-append", k.commandLine()));
                }
            }
            case BootSource.FirstDisk d -> {
                // bootindex on the first disk's device does it
            }
            case BootSource.Iso iso -> {
                // bootindex on the CD-ROM drive does it (see addCdRom)
            }
        }
    }

    /** The device id of the CD-ROM drive: how its tray and medium are handled while the VM runs. */
    public static final String CDROM_DEVICE = "cdrom";
    /** The block node of the medium a worker starts with; a medium inserted later gets a node of its own. */
    public static final String CDROM_NODE = "cdrom0";

    /**
     * The CD-ROM drive, empty or holding an ISO opened read-only as raw: an IDE drive (on q35, a port of its
     * built-in AHCI controller, which no disk uses; on i440fx, the IDE slot after the disks). The firmware
     * boots from it first when the VM boots from an ISO.
     */
    private static void addCdRom(VmDefinition def, UnaryOperator<Path> resolve, List<String> args) {
        if (def.cdrom() == null) {
            return;
        }
        String device = "ide-cd,id=" + CDROM_DEVICE;
        if (!def.cdrom().isEmpty()) {
            args.addAll(List.of("-blockdev", cdromBlockdev(CDROM_NODE, resolve.apply(def.cdrom().medium()))));
            device += ",drive=" + CDROM_NODE;
        }
        device += def.profile() == DeviceProfile.ENLIGHTENED
                ? ",bus=ide.0"
                : ",bus=ide." + (def.disks().size() / 2) + ",unit=" + (def.disks().size() % 2);
        args.addAll(List.of("-device", device + (def.boot() instanceof BootSource.Iso ? ",bootindex=0" : "")));
    }

    /** An ISO image as a CD-ROM's medium: raw, read-only, nothing probed. */
    public static String cdromBlockdev(String node, Path iso) {
        return blockdev(node, DiskFormat.RAW, iso, true, null);
    }

    /**
     * A format node over a file node. A format that could open a backing file is told which one: the
     * node of a linked clone's base, or none. QEMU never follows a chain an image's header names, whatever
     * the header says by the time the worker opens it; only the chains Hypervise built and named.
     */
    /** The -blockdev values of a disk known by {@code node}: its base's first, for a linked clone. */
    public static List<String> diskBlockdevs(Disk disk, String node, UnaryOperator<Path> resolve) {
        if (disk.hostDevice()) {
            return List.of(hostDeviceBlockdev(node, disk.path(), disk.readOnly()));
        }
        List<String> nodes = new java.util.ArrayList<>();
        String base = null;
        if (disk.backing() != null) {
            base = node + "-base";
            nodes.add(blockdev(base, disk.backing().format(), resolve.apply(disk.backing().path()), true, null));
        }
        nodes.add(blockdev(node, disk.format(), resolve.apply(disk.path()), disk.readOnly(), base));
        return nodes;
    }

    /**
     * A host block device passed through whole: {@code host_device} under an explicit {@code raw} format node (QEMU
     * never probes what the guest wrote on it), with the host's page cache bypassed (cache=none: O_DIRECT, flushes
     * passed on) and Linux native AIO, as libvirt does for block devices. The path is the device's link-free one.
     */
    private static String hostDeviceBlockdev(String node, Path device, boolean readOnly) {
        ObjectNode cache = JSON.createObjectNode().put("direct", true).put("no-flush", false);
        ObjectNode protocol = JSON.createObjectNode()
                .put("driver", "host_device")
                .put("filename", device.toString())
                .put("aio", "native")
                .put("read-only", readOnly);
        protocol.set("cache", cache.deepCopy());
        ObjectNode formatNode = JSON.createObjectNode()
                .put("node-name", node)
                .put("driver", DiskFormat.RAW.qemuDriver())
                .put("read-only", readOnly);
        formatNode.set("cache", cache);
        formatNode.set("file", protocol);
        return formatNode.toString();
    }

    private static String blockdev(String node, DiskFormat format, Path file, boolean readOnly, String backingNode) {
        ObjectNode protocol = JSON.createObjectNode()
                .put("driver", "file")
                .put("filename", file.toString());
        if (readOnly) {
            protocol.put("read-only", true);
        }
        ObjectNode formatNode = JSON.createObjectNode()
                .put("node-name", node)
                .put("driver", format.qemuDriver())
                .put("read-only", readOnly);
        formatNode.set("file", protocol);
        if (backingNode != null) {
            formatNode.put("backing", backingNode);
        } else if (format.takesBacking()) {
            formatNode.putNull("backing");
        }
        return formatNode.toString();
    }
}
