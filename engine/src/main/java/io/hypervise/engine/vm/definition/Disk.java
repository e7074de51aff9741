package io.hypervise.engine.vm.definition;

import java.nio.file.Path;

/**
 * A virtual disk attached to a VM: an image file under the storage root, in a known format; or, when
 * {@code hostDevice}, a whole block device of the host passed through to the guest (its path under /dev,
 * opened raw). A linked clone is a qcow2 image with a {@link Backing}: it holds what the guest wrote, and
 * reads the rest from the backing image, which stays read-only and may back many clones.
 */
public record Disk(Path path, DiskFormat format, boolean readOnly, Backing backing, String node, boolean hostDevice) {

    public Disk(Path path, DiskFormat format, boolean readOnly) {
        this(path, format, readOnly, null, null, false);
    }

    public Disk(Path path, DiskFormat format, boolean readOnly, Backing backing) {
        this(path, format, readOnly, backing, null, false);
    }

    public Disk(Path path, DiskFormat format, boolean readOnly, Backing backing, String node) {
        this(path, format, readOnly, backing, node, false);
    }

    /** A whole block device of the host, given to the guest as it is: always raw, never probed. */
    public static Disk hostDevice(Path device, boolean readOnly) {
        return new Disk(device, DiskFormat.RAW, readOnly, null, null, true);
    }

    /**
     * The name QEMU knows the disk by (its block node; the device is {@code dev-<name>}): the one it was given
     * when it was added to a running VM, which it keeps, else {@code disk<position>}.
     */
    public String nodeName(int position) {
        return node != null ? node : "disk" + position;
    }

    /** The same disk, known by {@code node}. */
    public Disk withNode(String node) {
        return new Disk(path, format, readOnly, backing, node, hostDevice);
    }

    /** The same disk at {@code path} (its absolute, checked form). */
    public Disk at(Path path, Backing backing) {
        return new Disk(path, format, readOnly, backing, node, hostDevice);
    }

    /** The read-only image a linked clone reads from; named here, never taken from the clone's header. */
    public record Backing(Path path, DiskFormat format) {
    }
}
