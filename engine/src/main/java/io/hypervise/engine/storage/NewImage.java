package io.hypervise.engine.storage;

import io.hypervise.engine.template.NoCloudSeed;
import io.hypervise.engine.vm.definition.DiskFormat;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * An image made for a VM when it is defined, in the VM's own folder and deleted with it. Each has the
 * virtual size the guest sees, which is what quotas count.
 */
public sealed interface NewImage {

    long bytes();

    /** An empty, sparse image. */
    record Blank(long bytes) implements NewImage {
    }

    /**
     * A qcow2 overlay on a read-only base image (a library disk): it starts empty and holds only what the
     * guest writes, so ten clones of one image cost ten small files.
     */
    record LinkedClone(Path base, DiskFormat baseFormat, long bytes) implements NewImage {
    }

    /** A full, independent copy of an image, converted to the disk's format; takes time in proportion to its data. */
    record Copy(Path source, DiskFormat sourceFormat, long bytes) implements NewImage {
    }

    /**
     * An image made elsewhere and brought in whole (a disk of a VM archive), already checked to be what it
     * says: moved, not copied, into the VM's folder. It must lie in the storage root, on its file system.
     */
    record Adopt(Path file, DiskFormat format, long bytes) implements NewImage {
    }

    /**
     * A small FAT volume labelled {@code cidata} with cloud-init's NoCloud files: what a guest applies at
     * its first boot (host name, user, SSH keys, password). Raw.
     */
    record Seed(NoCloudSeed seed) implements NewImage {
        public long bytes() {
            return NoCloudSeed.BYTES;
        }
    }

    /** Blank images of the given sizes, by disk position. */
    static Map<Integer, NewImage> blanks(Map<Integer, Long> bytesByPosition) {
        Map<Integer, NewImage> images = new TreeMap<>();
        bytesByPosition.forEach((position, bytes) -> images.put(position, new Blank(bytes)));
        return images;
    }
}
