package io.hypervise.engine.vm.definition;

import java.nio.file.Path;

/** A virtual disk attached to a VM: an image file under the storage root, in a known format. */
public record Disk(Path path, DiskFormat format, boolean readOnly) {
}
