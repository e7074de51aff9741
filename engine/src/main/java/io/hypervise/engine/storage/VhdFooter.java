package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.UUID;

/**
 * A VHD's footer (Microsoft's Virtual Hard Disk Image Format Specification: 512 bytes, big-endian, the
 * cookie "conectix", a one's-complement checksum). A fixed disk has it only at its end; dynamic and
 * differencing disks also carry a copy at their start, where QEMU's vpc driver looks first.
 *
 * @param diskType     {@link #FIXED}, {@link #DYNAMIC} or {@link #DIFFERENCING}
 * @param dataOffset   where a dynamic or differencing disk's header starts (all ones for a fixed disk)
 * @param creatorApplication four characters naming the program that made the disk; QEMU decides by them
 *                     whether the disk's size is {@code currentSize} ("win ", "qem2", ...) or its geometry's
 * @param currentSize  the disk's size in bytes, as Hyper-V reads it
 * @param uniqueId     the id a differencing child names its parent by
 */
public record VhdFooter(int diskType, long dataOffset, Instant timestamp, String creatorApplication,
        int creatorVersion, String creatorHostOs, long originalSize, long currentSize, Geometry geometry,
        UUID uniqueId, boolean savedState) {

    public static final int FOOTER_SIZE = 512;
    public static final int FIXED = 2;
    public static final int DYNAMIC = 3;
    /** Has a parent elsewhere, which QEMU's vpc driver ignores: it reads zeros where the parent's data is. */
    public static final int DIFFERENCING = 4;
    /** 2040 GiB: the largest disk the format (and QEMU) allows. */
    public static final long MAX_SIZE = 2040L << 30;
    /** Fixed disks have no header: their data offset is all ones. */
    public static final long NO_DATA_OFFSET = -1L;
    /** VHD time stamps count seconds from 2000-01-01T00:00:00Z. */
    public static final Instant EPOCH = Instant.ofEpochSecond(946_684_800L);

    private static final int CHECKSUM_OFFSET = 64;
    private static final int FEATURES_RESERVED = 0x2;
    private static final int FORMAT_VERSION = 0x0001_0000;

    /** Cylinders, heads and sectors per track; Virtual PC sizes a disk by them, Hyper-V by the current size. */
    public record Geometry(int cylinders, int heads, int sectorsPerTrack) {

        /** The spec's algorithm (its appendix "CHS Calculation"), which rounds down. */
        public static Geometry forSectors(long totalSectors) {
            long sectors = Math.min(Math.max(totalSectors, 0), 65535L * 16 * 255);
            int perTrack;
            int heads;
            long cylindersTimesHeads;
            if (sectors >= 65535L * 16 * 63) {
                perTrack = 255;
                heads = 16;
                cylindersTimesHeads = sectors / perTrack;
            } else {
                perTrack = 17;
                cylindersTimesHeads = sectors / perTrack;
                heads = (int) Math.max(4, (cylindersTimesHeads + 1023) / 1024);
                if (cylindersTimesHeads >= heads * 1024L || heads > 16) {
                    perTrack = 31;
                    heads = 16;
                    cylindersTimesHeads = sectors / perTrack;
                }
                if (cylindersTimesHeads >= heads * 1024L) {
                    perTrack = 63;
                    heads = 16;
                    cylindersTimesHeads = sectors / perTrack;
                }
            }
            return new Geometry((int) (cylindersTimesHeads / heads), heads, perTrack);
        }

        public long sectors() {
            return (long) cylinders * heads * sectorsPerTrack;
        }
    }

    /** The footer where QEMU's vpc driver looks, in its order: the copy at the start, then the end. */
    public static VhdFooter read(Path image) throws IOException {
        try (FileChannel file = FileChannel.open(image, StandardOpenOption.READ)) {
            return read(file);
        }
    }

    /** @see #read(Path) */
    public static VhdFooter read(FileChannel file) throws IOException {
        ByteBuffer start = ImageBytes.read(file, 0, FOOTER_SIZE);
        if (ImageSignature.VHD.startsWith(start)) {
            return parse(start);
        }
        ByteBuffer end = ImageBytes.read(file, Math.max(0, file.size() - FOOTER_SIZE), FOOTER_SIZE);
        if (ImageSignature.VHD.startsWith(end)) {
            return parse(end);
        }
        throw new MalformedImageException("is not a VHD image (no \"conectix\" footer at its start or end)");
    }

    /**
     * Parses and checks a footer: cookie, checksum, disk type and size.
     *
     * @throws MalformedImageException if it is damaged or describes no disk the format allows
     */
    public static VhdFooter parse(ByteBuffer footer) throws MalformedImageException {
        ByteBuffer b = footer.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (!ImageSignature.VHD.startsWith(b)) {
            throw new MalformedImageException("is not a VHD image (its footer does not start with \"conectix\")");
        }
        if (b.limit() < FOOTER_SIZE) {
            throw new MalformedImageException("has a truncated VHD footer (" + b.limit() + " bytes)");
        }
        int stored = b.getInt(CHECKSUM_OFFSET);
        int computed = checksum(b.slice(0, FOOTER_SIZE), CHECKSUM_OFFSET);
        if (stored != computed) {
            throw new MalformedImageException("has a damaged VHD footer: its checksum is 0x" + Integer.toHexString(stored)
                    + " but its bytes sum to 0x" + Integer.toHexString(computed));
        }
        int type = b.getInt(60);
        if (type != FIXED && type != DYNAMIC && type != DIFFERENCING) {
            throw new MalformedImageException("is a VHD of unknown disk type " + Integer.toUnsignedString(type)
                    + " (2 is fixed, 3 dynamic, 4 differencing)");
        }
        long size = b.getLong(48);
        if (size < 0 || size > MAX_SIZE) {
            throw new MalformedImageException("declares a virtual size of " + Long.toUnsignedString(size)
                    + " bytes, more than the 2040 GiB a VHD can hold");
        }
        if (size % 512 != 0) {
            throw new MalformedImageException("declares a virtual size of " + size + " bytes, not a whole number of 512-byte sectors");
        }
        Geometry geometry = new Geometry(Short.toUnsignedInt(b.getShort(56)), Byte.toUnsignedInt(b.get(58)),
                Byte.toUnsignedInt(b.get(59)));
        return new VhdFooter(type, b.getLong(16), timestamp(b.getInt(24)), ascii(b, 28, 4), b.getInt(32),
                ascii(b, 36, 4), b.getLong(40), size, geometry, new UUID(b.getLong(68), b.getLong(76)), b.get(84) != 0);
    }

    /** The footer's 512 bytes, checksum included. */
    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(FOOTER_SIZE).order(ByteOrder.BIG_ENDIAN);
        b.put(0, "conectix".getBytes(StandardCharsets.US_ASCII))
                .putInt(8, FEATURES_RESERVED)
                .putInt(12, FORMAT_VERSION)
                .putLong(16, dataOffset)
                .putInt(24, (int) (timestamp.getEpochSecond() - EPOCH.getEpochSecond()))
                .put(28, fourCharacters(creatorApplication))
                .putInt(32, creatorVersion)
                .put(36, fourCharacters(creatorHostOs))
                .putLong(40, originalSize)
                .putLong(48, currentSize)
                .putShort(56, (short) geometry.cylinders())
                .put(58, (byte) geometry.heads())
                .put(59, (byte) geometry.sectorsPerTrack())
                .putInt(60, diskType)
                .putLong(68, uniqueId.getMostSignificantBits())
                .putLong(76, uniqueId.getLeastSignificantBits())
                .put(84, (byte) (savedState ? 1 : 0));
        return b.putInt(CHECKSUM_OFFSET, checksum(b, CHECKSUM_OFFSET));
    }

    /**
     * The format's checksum of a footer or dynamic header: the one's complement of the sum of its bytes,
     * the four of the checksum field left out.
     */
    public static int checksum(ByteBuffer structure, int checksumOffset) {
        int sum = 0;
        for (int i = 0; i < structure.limit(); i++) {
            if (i < checksumOffset || i >= checksumOffset + 4) {
                sum += Byte.toUnsignedInt(structure.get(i));
            }
        }
        return ~sum;
    }

    /** A VHD time stamp (unsigned seconds from 2000) as an instant. */
    public static Instant timestamp(int vhdSeconds) {
        return EPOCH.plusSeconds(Integer.toUnsignedLong(vhdSeconds));
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

    private static String ascii(ByteBuffer b, int offset, int length) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < length; i++) {
            int c = Byte.toUnsignedInt(b.get(offset + i));
            s.append(c >= 0x20 && c < 0x7f ? (char) c : c == 0 ? '\0' : '?');
        }
        return s.toString();
    }

    private static byte[] fourCharacters(String text) {
        byte[] bytes = new byte[4];
        byte[] given = text.getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(given, 0, bytes, 0, Math.min(4, given.length));
        return bytes;
    }
}
