package io.hypervise.engine.vm.definition;

/**
 * A disk image's format, stored with the disk and always passed to QEMU explicitly: letting QEMU
 * probe a raw image for a header is how a guest names a host file as its backing store.
 */
public enum DiskFormat {
    RAW("raw", false),
    QCOW2("qcow2", true),
    /** Virtual Hard Disk (fixed, dynamic or differencing); QEMU calls it "vpc". */
    VHD("vpc", false),
    VHDX("vhdx", false);

    private final String qemuDriver;
    private final boolean takesBacking;

    DiskFormat(String qemuDriver, boolean takesBacking) {
        this.qemuDriver = qemuDriver;
        this.takesBacking = takesBacking;
    }

    public String qemuDriver() {
        return qemuDriver;
    }

    /**
     * Whether QEMU's driver opens a backing file its header names unless told otherwise; its
     * {@code -blockdev} then says {@code "backing": null}, as Hypervise builds no chains.
     */
    public boolean takesBacking() {
        return takesBacking;
    }
}
