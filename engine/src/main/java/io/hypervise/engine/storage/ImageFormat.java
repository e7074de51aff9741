package io.hypervise.engine.storage;

import io.hypervise.engine.vm.definition.DiskFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The formats a file can come into the library in, and how Hypervise's own code tells them apart by
 * their magic bytes (never by asking qemu-img, which would probe).
 */
public enum ImageFormat {
    /** An ISO 9660 (CD/DVD) image: "CD001" in the first volume descriptor, at byte 32769. */
    ISO,
    RAW,
    QCOW2,
    /** Virtual Hard Disk: fixed, dynamic or differencing. An import format: converted to qcow2. */
    VHD,
    /** An import format: converted to qcow2. */
    VHDX;

    static final long ISO_MAGIC_OFFSET = 0x8001;
    private static final byte[] ISO_MAGIC = "CD001".getBytes(StandardCharsets.US_ASCII);

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The disk format QEMU opens it with (an ISO is raw bytes). */
    public DiskFormat diskFormat() {
        return switch (this) {
            case ISO, RAW -> DiskFormat.RAW;
            case QCOW2 -> DiskFormat.QCOW2;
            case VHD -> DiskFormat.VHD;
            case VHDX -> DiskFormat.VHDX;
        };
    }

    /**
     * The format the file's first bytes (and a VHD's last 512) announce; RAW when none does. A file that
     * starts with a signature of a format the library does not take (QED, VMDK) is reported as such.
     */
    public static ImageFormat detect(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer head = ImageBytes.read(channel, 0, 64);
            if (ImageSignature.QCOW.startsWith(head)) {
                return QCOW2;
            }
            if (ImageSignature.VHDX.startsWith(head)) {
                return VHDX;
            }
            if (ImageSignature.VHD.startsWith(head)) {
                return VHD;
            }
            for (ImageSignature other : new ImageSignature[] {ImageSignature.QED, ImageSignature.VMDK,
                    ImageSignature.VMDK_DESCRIPTOR}) {
                if (other.startsWith(head)) {
                    throw new MalformedImageException("is a " + other.format() + " image, which the library does not take;"
                            + " convert it to qcow2, raw, VHD or VHDX first");
                }
            }
            ByteBuffer tail = ImageBytes.read(channel, Math.max(0, channel.size() - 512), 512);
            if (channel.size() >= 1024 && ImageSignature.VHD.startsWith(tail)) {
                return VHD;
            }
            ByteBuffer iso = ImageBytes.read(channel, ISO_MAGIC_OFFSET, ISO_MAGIC.length);
            if (iso.equals(ByteBuffer.wrap(ISO_MAGIC))) {
                return ISO;
            }
            return RAW;
        }
    }

    public static ImageFormat parse(String value) {
        for (ImageFormat f : values()) {
            if (f.id().equals(value.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown image format '" + value + "'; one of iso, raw, qcow2, vhd, vhdx");
    }
}
