package io.hypervise.engine.vm.definition;

import java.nio.file.Path;

/**
 * A virtual disk attached to a VM: an image file under the storage root, in a known format. A linked
 * clone is a qcow2 image with a {@link Backing}: it holds what the guest wrote, and reads the rest from
 * the backing image, which stays read-only and may back many clones.
 */
public record Disk(Path path, DiskFormat format, boolean readOnly, Backing backing) {

    public Disk(Path path, DiskFormat format, boolean readOnly) {
        this(path, format, readOnly, null);
    }

    /** The read-only image a linked clone reads from; named here, never taken from the clone's header. */
    public record Backing(Path path, DiskFormat format) {
    }
}
