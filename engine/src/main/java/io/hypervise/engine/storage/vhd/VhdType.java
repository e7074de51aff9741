package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.storage.VhdFooter;

/** The three kinds of VHD, by the disk type in their footer. */
public enum VhdType {
    /** Raw data followed by the footer. */
    FIXED(VhdFooter.FIXED),
    /** Blocks allocated as they are written, found through a block allocation table. */
    DYNAMIC(VhdFooter.DYNAMIC),
    /** A dynamic disk whose unwritten sectors are its parent's. */
    DIFFERENCING(VhdFooter.DIFFERENCING);

    private final int code;

    VhdType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    static VhdType of(VhdFooter footer) {
        return switch (footer.diskType()) {
            case VhdFooter.FIXED -> FIXED;
            case VhdFooter.DYNAMIC -> DYNAMIC;
            default -> DIFFERENCING; // VhdFooter.parse admits no other type
        };
    }
}
