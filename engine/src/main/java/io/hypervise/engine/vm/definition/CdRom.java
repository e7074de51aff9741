package io.hypervise.engine.vm.definition;

import java.nio.file.Path;

/**
 * The VM's CD-ROM drive and the ISO image in it, opened read-only as raw (an ISO is raw data; QEMU is never
 * asked to guess). A VM without a drive has none of these in its definition.
 *
 * @param medium the ISO image in the drive; null when the drive is empty
 */
public record CdRom(Path medium) {

    /** An empty drive. */
    public static final CdRom EMPTY = new CdRom(null);

    public boolean isEmpty() {
        return medium == null;
    }
}
