package io.hypervise.engine.vm;

/**
 * A disk image's format, stored with the disk and always passed to QEMU explicitly: letting QEMU
 * probe a raw image for a header is how a guest names a host file as its backing store.
 */
public enum DiskFormat {
    RAW("raw"),
    QCOW2("qcow2"),
    /** Virtual Hard Disk (fixed, dynamic or differencing); QEMU calls it "vpc". */
    VHD("vpc"),
    VHDX("vhdx");

    private final String qemuDriver;

    DiskFormat(String qemuDriver) {
        this.qemuDriver = qemuDriver;
    }

    public String qemuDriver() {
        return qemuDriver;
    }
}
