package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The disk type a VHD's footer declares (Microsoft's Virtual Hard Disk Image Format Specification:
 * a 512-byte footer with the cookie "conectix", the disk type at offset 60). Where QEMU's vpc driver
 * looks, in its order: the copy at the start that dynamic and differencing disks carry, then the end.
 */
public record VhdFooter(int diskType) {

    public static final int FOOTER_SIZE = 512;
    public static final int FIXED = 2;
    public static final int DYNAMIC = 3;
    /** Has a parent elsewhere, which QEMU's vpc driver ignores: it reads zeros where the parent's data is. */
    public static final int DIFFERENCING = 4;

    public static VhdFooter read(Path image) throws IOException {
        try (FileChannel file = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer start = ImageBytes.read(file, 0, FOOTER_SIZE);
            if (ImageSignature.VHD.startsWith(start)) {
                return parse(start);
            }
            ByteBuffer end = ImageBytes.read(file, Math.max(0, file.size() - FOOTER_SIZE), FOOTER_SIZE);
            if (ImageSignature.VHD.startsWith(end)) {
                return parse(end);
            }
        }
        throw new MalformedImageException("is not a VHD image (no \"conectix\" footer at its start or end)");
    }

    /** Parses a footer that starts with the cookie ({@link ImageSignature#VHD}). */
    static VhdFooter parse(ByteBuffer footer) throws MalformedImageException {
        if (footer.limit() < FOOTER_SIZE) {
            throw new MalformedImageException("has a truncated VHD footer (" + footer.limit() + " bytes)");
        }
        return new VhdFooter(footer.getInt(60));
    }

    public boolean fixed() {
        return diskType == FIXED;
    }

    public String typeName() {
        return switch (diskType) {
            case FIXED -> "fixed";
            case DYNAMIC -> "dynamic";
            case DIFFERENCING -> "differencing";
            default -> "of unknown type " + Integer.toUnsignedString(diskType);
        };
    }
}
