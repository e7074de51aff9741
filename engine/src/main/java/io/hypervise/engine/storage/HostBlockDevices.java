package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Which of the host's block devices a VM may be given whole (pass-through), by the kernel's own account:
 * {@code /sys/dev/block} says what a device number is (a disk or a partition of one) and what sits on it
 * (device-mapper, LVM, RAID: {@code holders}, {@code slaves}); {@code /proc/self/mountinfo} and
 * {@code /proc/swaps} say what the host itself uses. A device the host's root file system or the storage
 * root lives on, directly or under layers of device-mapper, is never given away; nor is a partition, a
 * device mounted or used as swap, or one another block device is built on.
 */
public final class HostBlockDevices {

    private static final int S_IFMT = 0170000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFDIR = 0040000;

    private final Path sys;
    private final Path mountinfo;
    private final Path swaps;
    private final Path storageRoot;

    /** The host's own view: /sys, this process's mount table and the swap table. */
    public HostBlockDevices(Path storageRoot) {
        this(Path.of("/sys"), Path.of("/proc/self/mountinfo"), Path.of("/proc/swaps"), storageRoot);
    }

    HostBlockDevices(Path sys, Path mountinfo, Path swaps, Path storageRoot) {
        this.sys = sys;
        this.mountinfo = mountinfo;
        this.swaps = swaps;
        this.storageRoot = storageRoot;
    }

    /** The device's own name for people and for storing: its path with every symbolic link resolved. */
    public Path canonical(Path device) throws IOException {
        return device.toRealPath();
    }

    /** The device's size in bytes, as the kernel counts it (512-byte sectors in its {@code size}). */
    public long sizeBytes(Path device) throws IOException {
        Path dir = sysDirectory(device.toRealPath()).orElseThrow(() -> new IOException(device + " is not a listed block device"));
        return Long.parseLong(Files.readString(dir.resolve("size")).trim()) * 512;
    }

    /**
     * One whole block device of the host as the kernel lists it ({@code /sys/block}), and why it may not be given
     * to a VM ({@code problem}, null when it may). Model and serial are what sysfs tells (absent for a loop device,
     * which names its backing file instead).
     */
    public record Device(Path path, long sizeBytes, String model, String serial, String backingFile, String problem) {

        public boolean usable() {
            return problem == null;
        }
    }

    /**
     * The host's whole block devices, by name, each with why it may not be given to a VM. Those without a medium
     * (size 0: a loop device with no file, an empty drive, an unset zram) are left out: there is nothing to give.
     */
    public List<Device> list() throws IOException {
        Path block = sys.resolve("block");
        if (!Files.isDirectory(block)) {
            return List.of();
        }
        List<Device> devices = new ArrayList<>();
        try (Stream<Path> s = Files.list(block)) {
            for (Path dir : s.sorted().toList()) {
                long sectors = readLong(dir.resolve("size"));
                if (sectors <= 0) {
                    continue;
                }
                // The kernel writes '/' in a device's name as '!' (cciss!c0d0 is /dev/cciss/c0d0).
                Path node = Path.of("/dev", dir.getFileName().toString().replace('!', '/'));
                devices.add(new Device(node, sectors * 512, read(dir.resolve("device/model")),
                        firstOf(read(dir.resolve("serial")), read(dir.resolve("device/serial"))),
                        read(dir.resolve("loop/backing_file")), problemWith(node).orElse(null)));
            }
        }
        return devices;
    }

    /** A sysfs attribute's text, trimmed; null where there is none or it is blank. */
    private static String read(Path attribute) {
        try {
            String text = Files.isRegularFile(attribute) ? Files.readString(attribute).strip() : "";
            return text.isEmpty() ? null : text;
        } catch (IOException e) {
            return null;
        }
    }

    private static long readLong(Path attribute) {
        String text = read(attribute);
        try {
            return text == null ? 0 : Long.parseLong(text);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static String firstOf(String a, String b) {
        return a != null ? a : b;
    }

    /** Why {@code device} may not be given to a VM whole, or empty when it may. */
    public Optional<String> problemWith(Path device) {
        if (device == null) {
            return Optional.of("is required: the path of a host block device, such as /dev/sdb");
        }
        if (!device.isAbsolute()) {
            return Optional.of("must be the absolute path of a host block device, such as /dev/sdb; got " + device);
        }
        if (!Files.exists(device)) {
            return Optional.of("no such device: " + device);
        }
        try {
            Path real = device.toRealPath();
            String named = real.equals(device) ? real.toString() : device + " (" + real + ")";
            int type = ((Number) Files.getAttribute(real, "unix:mode")).intValue() & S_IFMT;
            if (type != S_IFBLK) {
                return Optional.of(switch (type) {
                    case S_IFREG -> "is a regular file, not a block device: " + named + "; an image file is given as a path"
                            + " with its format";
                    case S_IFCHR -> "is a character device, not a block device: " + named;
                    case S_IFDIR -> "is a directory, not a block device: " + named;
                    default -> "is not a block device: " + named;
                });
            }
            Optional<Path> dir = sysDirectory(real);
            if (dir.isEmpty()) {
                return Optional.of("is a block device the kernel does not list in /sys/dev/block: " + named);
            }
            Path disk = dir.get();
            if (Files.exists(disk.resolve("partition"))) {
                return Optional.of("is partition " + Files.readString(disk.resolve("partition")).trim() + " of /dev/"
                        + disk.getParent().getFileName() + ", not a whole disk: " + named + "; a VM is given whole disks only");
            }
            return inUse(disk, named);
        } catch (IOException | RuntimeException e) {
            return Optional.of("cannot be examined: " + e.getMessage());
        }
    }

    /** Whether the host uses the whole disk {@code disk} (its /sys directory) or anything built on it. */
    private Optional<String> inUse(Path disk, String named) throws IOException {
        List<Mount> mounts = mounts();
        Path root = storageRoot.toRealPath();
        Mount rootMount = null;
        Mount storageMount = null;
        for (Mount m : mounts) {
            if (m.point().equals("/")) {
                rootMount = m;
            }
            if (root.startsWith(Path.of(m.point())) && (storageMount == null
                    || Path.of(m.point()).getNameCount() >= Path.of(storageMount.point()).getNameCount())) {
                storageMount = m;
            }
        }
        if (rootMount != null && disksUnder(rootMount).contains(disk)) {
            return Optional.of("holds the host's root file system (/): " + named + " is never given to a VM");
        }
        if (storageMount != null && disksUnder(storageMount).contains(disk)) {
            return Optional.of("holds the storage root " + root + " (mounted at " + storageMount.point() + "): " + named
                    + " is never given to a VM");
        }
        for (Mount m : mounts) {
            if (disksUnder(m).contains(disk)) {
                return Optional.of("is mounted on the host at " + m.point() + " (" + m.source() + "): unmount it first");
            }
        }
        for (Path swap : swapDevices()) {
            if (disksUnder(swap).contains(disk)) {
                return Optional.of("is used as swap by the host (" + swap + "): swapoff it first");
            }
        }
        List<String> holders = new ArrayList<>(names(disk.resolve("holders")));
        for (Path partition : partitions(disk)) {
            holders.addAll(names(partition.resolve("holders")));
        }
        if (!holders.isEmpty()) {
            return Optional.of("has block devices built on it by the host (" + String.join(", ", holders)
                    + ": device-mapper, LVM or RAID); take them down first");
        }
        return Optional.empty();
    }

    /** The /sys directory of the block device node {@code real}, by its device number. */
    private Optional<Path> sysDirectory(Path real) throws IOException {
        long rdev = ((Number) Files.getAttribute(real, "unix:rdev")).longValue();
        return sysDirectory(major(rdev) + ":" + minor(rdev));
    }

    private Optional<Path> sysDirectory(String majorMinor) throws IOException {
        Path link = sys.resolve("dev/block").resolve(majorMinor);
        return Files.exists(link) ? Optional.of(link.toRealPath()) : Optional.empty();
    }

    /** The whole disks a mount's file system lives on: through partitions and device-mapper's slaves. */
    private Set<Path> disksUnder(Mount mount) throws IOException {
        Set<Path> disks = new HashSet<>();
        Optional<Path> dir = sysDirectory(mount.majorMinor());
        if (dir.isPresent()) {
            collectDisks(dir.get(), disks, new HashSet<>());
        }
        // btrfs and others report an anonymous device number; their source names the real one.
        if (mount.source().startsWith("/dev/")) {
            disks.addAll(disksUnder(Path.of(mount.source())));
        }
        return disks;
    }

    private Set<Path> disksUnder(Path deviceNode) throws IOException {
        Set<Path> disks = new HashSet<>();
        if (!Files.exists(deviceNode)) {
            return disks;
        }
        Path real = deviceNode.toRealPath();
        if ((((Number) Files.getAttribute(real, "unix:mode")).intValue() & S_IFMT) != S_IFBLK) {
            return disks;
        }
        Optional<Path> dir = sysDirectory(real);
        if (dir.isPresent()) {
            collectDisks(dir.get(), disks, new HashSet<>());
        }
        return disks;
    }

    private void collectDisks(Path dir, Set<Path> disks, Set<Path> seen) throws IOException {
        if (!seen.add(dir)) {
            return;
        }
        Path whole = Files.exists(dir.resolve("partition")) ? dir.getParent().toRealPath() : dir;
        disks.add(whole);
        Path slaves = dir.resolve("slaves");
        if (Files.isDirectory(slaves)) {
            try (Stream<Path> s = Files.list(slaves)) {
                for (Path slave : s.toList()) {
                    collectDisks(slave.toRealPath(), disks, seen);
                }
            }
        }
    }

    private static List<Path> partitions(Path disk) throws IOException {
        try (Stream<Path> s = Files.list(disk)) {
            return s.filter(p -> Files.exists(p.resolve("partition"))).toList();
        }
    }

    private static List<String> names(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private List<Path> swapDevices() throws IOException {
        if (!Files.exists(swaps)) {
            return List.of();
        }
        return Files.readAllLines(swaps).stream().skip(1).map(l -> l.split("\\s+")[0])
                .filter(p -> p.startsWith("/")).map(p -> Path.of(unescape(p))).toList();
    }

    /** One line of mountinfo (proc(5)): the device number, the mount point, and after " - " the source. */
    record Mount(String majorMinor, String point, String source) {
    }

    List<Mount> mounts() throws IOException {
        List<Mount> mounts = new ArrayList<>();
        for (String line : Files.readAllLines(mountinfo)) {
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 5 || dash < 0 || dash + 2 >= f.length) {
                continue;
            }
            mounts.add(new Mount(f[2], unescape(f[4]), unescape(f[dash + 2])));
        }
        return mounts;
    }

    /** mountinfo writes space, tab, newline and backslash in octal (\040). */
    private static String unescape(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).chars().allMatch(d -> d >= '0' && d <= '7')) {
                out.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** glibc's gnu_dev_major / gnu_dev_minor. */
    static long major(long rdev) {
        return ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
    }

    static long minor(long rdev) {
        return (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
    }
}
