package io.hypervise.engine.vm.definition;

import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.storage.HostBlockDevices;
import io.hypervise.engine.storage.StorageRoot;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** Checks a VM definition against every rule and reports all broken ones at once, each by field. */
public final class VmDefinitionValidator {

    public static final int MAX_VCPUS = 64;
    public static final int MIN_MEMORY_MIB = 32;
    public static final int MAX_MEMORY_MIB = 1024 * 1024;
    public static final int MAX_DISKS = 16;
    /** The i440fx machine has two IDE channels of two devices each. */
    public static final int MAX_LEGACY_IDE_DEVICES = 4;
    public static final int MAX_NICS = 8;
    public static final int MAX_NAME_LENGTH = 64;
    public static final int MAX_COMMAND_LINE_LENGTH = 2048;

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");
    private static final Pattern MAC = Pattern.compile("([0-9a-f]{2}:){5}[0-9a-f]{2}");

    private final StorageRoot storage;
    private final HostBlockDevices devices;
    private final boolean uefiAvailable;
    private final ResourceSupport resourceSupport;

    /** @param uefiAvailable whether the host has UEFI firmware for VMs (see {@code HostCapabilities}) */
    public VmDefinitionValidator(StorageRoot storage, boolean uefiAvailable) {
        this(storage, uefiAvailable, ResourceSupport.EVERYTHING);
    }

    /** @param resourceSupport which resource controls the host can enforce; a VM asking for others is refused */
    public VmDefinitionValidator(StorageRoot storage, boolean uefiAvailable, ResourceSupport resourceSupport) {
        this.storage = storage;
        this.devices = new HostBlockDevices(storage.path());
        this.uefiAvailable = uefiAvailable;
        this.resourceSupport = resourceSupport;
    }

    /** @throws InvalidVmDefinitionException naming every broken rule */
    public void validate(VmDefinition def) {
        List<Violation> violations = violations(def);
        if (!violations.isEmpty()) {
            throw new InvalidVmDefinitionException(violations);
        }
    }

    public List<Violation> violations(VmDefinition def) {
        List<Violation> v = new ArrayList<>();
        checkIdentity(def, v);
        checkSize(def, v);
        if (def.profile() == null) {
            v.add(new Violation("profile", "is required: enlightened or legacy"));
        }
        if (def.display() == null) {
            v.add(new Violation("display", "is required: vnc or none"));
        }
        if (def.firmware() == Firmware.UEFI && !uefiAvailable) {
            v.add(new Violation("firmware", "UEFI needs the OVMF firmware, which this host does not have"
                    + " (Debian package ovmf); choose BIOS, or install it and restart the server"));
        }
        checkDisks(def, v);
        checkNics(def, v);
        checkBoot(def, v);
        checkCdRom(def, v);
        checkResources(def, v);
        return v;
    }

    /** The smallest disk limits QEMU's throttling keeps to smoothly; below them a guest's I/O stalls for seconds. */
    public static final long MIN_DISK_BYTES_PER_SECOND = 64 * 1024;
    public static final int MIN_DISK_IOPS = 10;
    /** Below this a single full-size frame takes a fifth of a second: no link anyone would want. */
    public static final long MIN_NETWORK_BITS_PER_SECOND = 64_000;
    public static final long MAX_NETWORK_BITS_PER_SECOND = 100_000_000_000L;

    private void checkResources(VmDefinition def, List<Violation> v) {
        Resources r = def.resources();
        resourceSupport.cpuUnavailable().ifPresent(why -> {
            if (r.cpuWeight() != null) {
                v.add(new Violation("resources.cpuWeight", "cannot be enforced on this host: " + why));
            }
            if (r.cpuCapPercent() != null) {
                v.add(new Violation("resources.cpuCapPercent", "cannot be enforced on this host: " + why));
            }
        });
        resourceSupport.memoryReservationUnavailable().filter(why -> r.memoryReservationMib() != null).ifPresent(why ->
                v.add(new Violation("resources.memoryReservationMib", "cannot be kept on this host: " + why)));
        resourceSupport.networkReceiveUnavailable().filter(why -> r.networkReceiveBitsPerSecond() != null).ifPresent(why ->
                v.add(new Violation("resources.networkReceiveBitsPerSecond", "cannot be enforced on this host: " + why)));
        resourceSupport.networkTransmitUnavailable().filter(why -> r.networkTransmitBitsPerSecond() != null).ifPresent(why ->
                v.add(new Violation("resources.networkTransmitBitsPerSecond", "cannot be enforced on this host: " + why)));
        v.addAll(resourceRanges(r, "resources"));
        if (r.memoryReservationMib() != null && (r.memoryReservationMib() < 1 || r.memoryReservationMib() > def.memoryMib())) {
            v.add(new Violation("resources.memoryReservationMib", "must be 1 to the VM's memory, " + def.memoryMib() + " MiB"));
        }
        if (r.balloonTargetMib() != null) {
            if (def.profile() != DeviceProfile.ENLIGHTENED) {
                v.add(new Violation("resources.balloonTargetMib", "needs the enlightened profile (a virtio balloon);"
                        + " a legacy VM keeps all its memory"));
            } else if (r.balloonTargetMib() < MIN_MEMORY_MIB || r.balloonTargetMib() > def.memoryMib()) {
                v.add(new Violation("resources.balloonTargetMib", "must be " + MIN_MEMORY_MIB + " MiB to the VM's memory, "
                        + def.memoryMib() + " MiB"));
            }
        }
    }

    /**
     * The ranges of the controls that do not depend on the VM's own size (CPU weight and cap, disk and network limits), named
     * under {@code prefix}: for a VM's definition, and for the controls a policy gives every VM.
     */
    public static List<Violation> resourceRanges(Resources r, String prefix) {
        List<Violation> v = new ArrayList<>();
        if (r.cpuWeight() != null && (r.cpuWeight() < 1 || r.cpuWeight() > Resources.MAX_CPU_WEIGHT)) {
            v.add(new Violation(prefix + ".cpuWeight", "must be 1 to " + Resources.MAX_CPU_WEIGHT + " (default "
                    + Resources.DEFAULT_CPU_WEIGHT + ")"));
        }
        if (r.cpuCapPercent() != null && (r.cpuCapPercent() < 1 || r.cpuCapPercent() > 100)) {
            v.add(new Violation(prefix + ".cpuCapPercent", "must be 1 to 100 (percent of the VM's vCPUs)"));
        }
        if (r.diskBytesPerSecond() != null && (r.diskBytesPerSecond() < MIN_DISK_BYTES_PER_SECOND
                || r.diskBytesPerSecond() > (1L << 40))) {
            v.add(new Violation(prefix + ".diskBytesPerSecond", "must be " + MIN_DISK_BYTES_PER_SECOND
                    + " (64 KiB/s) to 1 TiB/s"));
        }
        if (r.diskIops() != null && (r.diskIops() < MIN_DISK_IOPS || r.diskIops() > 10_000_000)) {
            v.add(new Violation(prefix + ".diskIops", "must be " + MIN_DISK_IOPS + " to 10000000"));
        }
        networkRange(r.networkReceiveBitsPerSecond(), prefix + ".networkReceiveBitsPerSecond", v);
        networkRange(r.networkTransmitBitsPerSecond(), prefix + ".networkTransmitBitsPerSecond", v);
        return v;
    }

    private static void networkRange(Long bitsPerSecond, String field, List<Violation> v) {
        if (bitsPerSecond != null && (bitsPerSecond < MIN_NETWORK_BITS_PER_SECOND || bitsPerSecond > MAX_NETWORK_BITS_PER_SECOND)) {
            v.add(new Violation(field, "must be " + MIN_NETWORK_BITS_PER_SECOND + " (64 kbit/s) to " + MAX_NETWORK_BITS_PER_SECOND
                    + " (100 Gbit/s) bits per second"));
        }
    }

    private static void checkIdentity(VmDefinition def, List<Violation> v) {
        if (def.id() == null || !ID.matcher(def.id()).matches()) {
            v.add(new Violation("id", "must be 1 to 40 lower-case letters, digits or dashes, starting with a letter or digit"));
        }
        String name = def.name();
        if (name == null || name.isBlank()) {
            v.add(new Violation("name", "is required"));
        } else if (name.length() > MAX_NAME_LENGTH) {
            v.add(new Violation("name", "must be at most " + MAX_NAME_LENGTH + " characters; it has " + name.length()));
        } else if (hasControlCharacters(name)) {
            v.add(new Violation("name", "must not contain control characters"));
        }
    }

    private static void checkSize(VmDefinition def, List<Violation> v) {
        if (def.vcpus() < 1 || def.vcpus() > MAX_VCPUS) {
            v.add(new Violation("vcpus", "must be between 1 and " + MAX_VCPUS + "; got " + def.vcpus()));
        }
        if (def.memoryMib() < MIN_MEMORY_MIB || def.memoryMib() > MAX_MEMORY_MIB) {
            v.add(new Violation("memoryMib", "must be between " + MIN_MEMORY_MIB + " and " + MAX_MEMORY_MIB
                    + " MiB; got " + def.memoryMib()));
        }
        checkMaximums(def, v);
    }

    /**
     * Room to grow while it runs: vCPUs up to {@code maxVcpus} (any profile: both machines have ACPI CPU hot-plug),
     * memory up to {@code maxMemoryMib} (enlightened only), in DIMMs of whole 128 MiB steps, one per slot.
     */
    private static void checkMaximums(VmDefinition def, List<Violation> v) {
        if (def.maxVcpus() != null && (def.maxVcpus() < def.vcpus() || def.maxVcpus() > MAX_VCPUS)) {
            v.add(new Violation("maxVcpus", "must be from the VM's vCPUs (" + def.vcpus() + ") to " + MAX_VCPUS
                    + "; got " + def.maxVcpus()));
        }
        Integer max = def.maxMemoryMib();
        if (max != null && (max < def.memoryMib() || max > MAX_MEMORY_MIB)) {
            v.add(new Violation("maxMemoryMib", "must be from the VM's memory (" + def.memoryMib() + " MiB) to "
                    + MAX_MEMORY_MIB + " MiB; got " + max));
        } else if (max != null && max > def.memoryMib() && def.profile() == DeviceProfile.LEGACY) {
            v.add(new Violation("maxMemoryMib", "memory is added while a VM runs on the enlightened profile only (q35,"
                    + " ACPI memory hot-plug); a legacy VM's memory changes while it is Off: leave maxMemoryMib out"));
        } else if (max != null && max > def.memoryMib() && max - def.memoryMib() < VmDefinition.MEMORY_STEP_MIB) {
            v.add(new Violation("maxMemoryMib", "leaves room for less than one step of memory added while the VM runs ("
                    + VmDefinition.MEMORY_STEP_MIB + " MiB): make it at least " + (def.memoryMib() + VmDefinition.MEMORY_STEP_MIB)
                    + " MiB, or the VM's memory (" + def.memoryMib() + " MiB)"));
        }
        List<Integer> dimms = def.memoryDimmsMib();
        if (dimms.isEmpty()) {
            return;
        }
        if (def.profile() == DeviceProfile.LEGACY) {
            v.add(new Violation("memoryDimmsMib", "memory is added while a VM runs on the enlightened profile only"));
        }
        if (dimms.size() > VmDefinition.MEMORY_SLOTS) {
            v.add(new Violation("memoryDimmsMib", "at most " + VmDefinition.MEMORY_SLOTS + " DIMMs; got " + dimms.size()));
        }
        if (dimms.stream().anyMatch(d -> d == null || d < VmDefinition.MEMORY_STEP_MIB || d % VmDefinition.MEMORY_STEP_MIB != 0)) {
            v.add(new Violation("memoryDimmsMib", "each DIMM is a whole number of " + VmDefinition.MEMORY_STEP_MIB
                    + " MiB steps; got " + dimms));
        } else if (def.baseMemoryMib() < MIN_MEMORY_MIB) {
            v.add(new Violation("memoryDimmsMib", "the DIMMs (" + dimms + " MiB) leave the VM less than " + MIN_MEMORY_MIB
                    + " MiB of its " + def.memoryMib() + " MiB to start with"));
        }
    }

    private void checkDisks(VmDefinition def, List<Violation> v) {
        int ideDevices = def.disks().size() + (def.cdrom() != null ? 1 : 0);
        if (def.disks().size() > MAX_DISKS) {
            v.add(new Violation("disks", "at most " + MAX_DISKS + " disks; got " + def.disks().size()));
        } else if (def.profile() == DeviceProfile.LEGACY && ideDevices > MAX_LEGACY_IDE_DEVICES) {
            // Named for the drive when the disks alone fit: it is the drive that finds no slot.
            v.add(new Violation(def.disks().size() < ideDevices && def.disks().size() == MAX_LEGACY_IDE_DEVICES
                    && !(def.boot() instanceof BootSource.Iso) ? "cdrom" : "disks", "the legacy profile has "
                    + MAX_LEGACY_IDE_DEVICES + " IDE slots for disks and the CD-ROM together; this VM needs " + ideDevices));
        }
        java.util.Map<Path, Integer> devicesSeen = new java.util.HashMap<>();
        for (int i = 0; i < def.disks().size(); i++) {
            Disk disk = def.disks().get(i);
            String field = "disks[" + i + "]";
            if (disk == null) {
                v.add(new Violation(field, "must not be null"));
                continue;
            }
            if (disk.hostDevice()) {
                checkHostDevice(field, disk, v);
                Integer twice = disk.path() == null ? null : devicesSeen.putIfAbsent(realOrSame(disk.path()), i);
                if (twice != null) {
                    v.add(new Violation(field + ".device", "is disks[" + twice + "] already: a device is given to a VM once"));
                }
                continue;
            }
            if (disk.format() == null) {
                v.add(new Violation(field + ".format", "is required: raw, qcow2, vhd or vhdx"));
            }
            Disk.Backing backing = disk.backing();
            if (backing != null) {
                checkBacking(field, disk, backing, v);
            }
            if (checkFile(field + ".path", disk.path(), v) && disk.format() != null) {
                checkImage(field + ".path", disk.path(), disk.format(), backing, v);
            }
        }
    }

    private static void checkNics(VmDefinition def, List<Violation> v) {
        if (def.nics().size() > MAX_NICS) {
            v.add(new Violation("nics", "at most " + MAX_NICS + " network adapters; got " + def.nics().size()));
        }
        for (int i = 0; i < def.nics().size(); i++) {
            Nic nic = def.nics().get(i);
            String field = "nics[" + i + "].mac";
            if (nic == null || nic.mac() == null || !MAC.matcher(nic.mac()).matches()) {
                v.add(new Violation(field, "must be six lower-case hex pairs separated by colons, e.g. 52:54:00:12:34:56"));
            } else if ((HexFormat.fromHexDigits(nic.mac(), 0, 2) & 1) != 0) {
                v.add(new Violation(field, "must be a unicast address (the first octet must be even)"));
            } else if (nic.mac().equals("00:00:00:00:00:00")) {
                v.add(new Violation(field, "must not be all zeros"));
            }
            for (int j = 0; j < i; j++) {
                Nic other = def.nics().get(j);
                if (nic != null && other != null && nic.mac() != null && nic.mac().equalsIgnoreCase(other.mac())) {
                    v.add(new Violation(field, "is already adapter " + j + "'s MAC (" + other.mac() + "); each adapter needs its own"));
                }
            }
            if (nic != null && nic.onSwitch() && !VirtualSwitches.ID.matcher(nic.switchId()).matches()) {
                v.add(new Violation("nics[" + i + "].switch", VirtualSwitches.ID_RULE));
            }
            if (nic != null && nic.vlan() != null && !nic.onSwitch()) {
                v.add(new Violation("nics[" + i + "].vlan", "needs a switch: VLANs are carried by virtual switches"));
            } else if (nic != null && nic.vlan() != null && (nic.vlan() < 1 || nic.vlan() > Nic.MAX_VLAN)) {
                v.add(new Violation("nics[" + i + "].vlan", "must be from 1 to " + Nic.MAX_VLAN + "; got " + nic.vlan()));
            }
        }
    }

    private void checkBoot(VmDefinition def, List<Violation> v) {
        switch (def.boot()) {
            case null -> v.add(new Violation("boot", "is required: kernel, disk or iso"));
            case BootSource.Kernel k -> {
                checkFile("boot.kernel", k.kernel(), v);
                if (k.initramfs() != null) {
                    checkFile("boot.initramfs", k.initramfs(), v);
                }
                String cmdline = k.commandLine() == null ? "" : k.commandLine();
                if (cmdline.length() > MAX_COMMAND_LINE_LENGTH) {
                    v.add(new Violation("boot.commandLine", "must be at most " + MAX_COMMAND_LINE_LENGTH + " characters"));
                } else if (hasControlCharacters(cmdline)) {
                    v.add(new Violation("boot.commandLine", "must not contain control characters or line breaks"));
                }
            }
            case BootSource.FirstDisk d -> {
                if (def.disks().isEmpty()) {
                    v.add(new Violation("boot", "boots from the first disk, but the VM has no disk"));
                }
            }
            // The boot image is the drive's first medium; once another is inserted or it is ejected, the VM no
            // longer uses it (and the library may let it go).
            case BootSource.Iso iso -> {
                if (def.cdrom() != null && iso.image() != null && !iso.image().equals(def.cdrom().medium())) {
                    return;
                }
                if (checkFile("boot.image", iso.image(), v)) {
                    checkImage("boot.image", iso.image(), DiskFormat.RAW, null, v);
                }
            }
        }
    }

    /** The drive's medium is an ISO (raw data, read-only), inside the storage root; the boot image is checked as that. */
    private void checkCdRom(VmDefinition def, List<Violation> v) {
        CdRom cdrom = def.cdrom();
        if (cdrom == null || cdrom.isEmpty()
                || def.boot() instanceof BootSource.Iso iso && cdrom.medium().equals(iso.image())) {
            return;
        }
        if (checkFile("cdrom.medium", cdrom.medium(), v)) {
            checkImage("cdrom.medium", cdrom.medium(), DiskFormat.RAW, null, v);
        }
    }

    /**
     * A linked clone: a writable qcow2 overlay on a raw or qcow2 image that is itself self-contained, as
     * Hypervise builds them. (The base may back many clones, so it is opened read-only.)
     */
    private void checkBacking(String field, Disk disk, Disk.Backing backing, List<Violation> v) {
        if (disk.format() != DiskFormat.QCOW2) {
            v.add(new Violation(field + ".format", "a disk with a base image (a linked clone) must be qcow2; got "
                    + (disk.format() == null ? "none" : disk.format().name().toLowerCase(java.util.Locale.ROOT))));
        }
        if (backing.format() != DiskFormat.RAW && backing.format() != DiskFormat.QCOW2) {
            v.add(new Violation(field + ".base.format", "a base image must be raw or qcow2"));
        } else if (checkFile(field + ".base.path", backing.path(), v)) {
            checkImage(field + ".base.path", backing.path(), backing.format(), null, v);
        }
    }

    /**
     * A host block device passed through whole: raw (what is on it is the guest's; QEMU is never let probe it),
     * on no base image, and one the host does not use itself (see {@link HostBlockDevices}).
     */
    private void checkHostDevice(String field, Disk disk, List<Violation> v) {
        if (disk.format() != DiskFormat.RAW) {
            v.add(new Violation(field + ".format", "a host device is passed through raw; leave format out or say raw"));
        }
        if (disk.backing() != null) {
            v.add(new Violation(field + ".base", "a host device has no base image"));
        }
        devices.problemWith(disk.path()).ifPresent(why -> v.add(new Violation(field + ".device", why)));
    }

    private static Path realOrSame(Path path) {
        try {
            return path.toRealPath();
        } catch (IOException e) {
            return path;
        }
    }

    /** Why {@code device} may not be given to a VM whole (see {@link HostBlockDevices}), or empty when it may. */
    public Optional<String> hostDeviceProblem(Path device) {
        return devices.problemWith(device);
    }

    /**
     * Why the image may not be opened in the format, by our own reading of its header (it must lie in
     * the storage root and lead to no other file); empty when it may.
     */
    public Optional<String> imageProblem(Path path, DiskFormat format) {
        List<Violation> v = new ArrayList<>();
        if (checkFile("image", path, v)) {
            checkImage("image", path, format, null, v);
        }
        return v.stream().map(Violation::message).findFirst();
    }

    /** Whether the file is one a VM may open: an existing regular file inside the storage root. */
    private boolean checkFile(String field, Path path, List<Violation> v) {
        if (path == null) {
            v.add(new Violation(field, "is required"));
            return false;
        }
        Optional<String> problem = storage.problemWith(path);
        problem.ifPresent(p -> v.add(new Violation(field, p)));
        return problem.isEmpty();
    }

    /** The image's header, read by our own code: its declared format, and no other file it would lead QEMU to. */
    private void checkImage(String field, Path path, DiskFormat format, Disk.Backing backing, List<Violation> v) {
        try {
            Path expectedBase = backing == null ? null : storage.resolve(backing.path());
            DiskImageCheck.problemWith(storage.resolve(path), format, expectedBase).ifPresent(p -> v.add(new Violation(field, p)));
        } catch (IOException e) {
            v.add(new Violation(field, "cannot be read: " + e.getMessage()));
        }
    }

    private static boolean hasControlCharacters(String s) {
        return s.chars().anyMatch(Character::isISOControl);
    }
}
