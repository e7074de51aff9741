package io.hypervise.engine.storage.vhd;

import java.util.Optional;
import java.util.UUID;

/**
 * What a VHD's footer and header say, read without its data.
 *
 * @param virtualSize the disk's size in bytes, as Hyper-V (and an import) sees it
 * @param parent      the parent a differencing disk names; empty for fixed and dynamic disks
 */
public record VhdDescription(VhdType type, long virtualSize, UUID uniqueId, String creatorApplication,
        Optional<VhdParent> parent) {
}
