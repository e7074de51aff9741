package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.storage.MalformedImageException;
import io.hypervise.engine.storage.VhdFooter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The 1024-byte header of a dynamic or differencing VHD (cookie "cxsparse", big-endian, checksummed like
 * the footer): where the block allocation table is, how large blocks are, and a differencing disk's parent.
 *
 * @param maxTableEntries the BAT's length in entries (unsigned in the file, so up to 2^32 - 1)
 * @param parentName      the parent's file name (UTF-16BE in the file), empty for none
 * @param locators        the eight parent locator entries, unused ones included
 */
record DynamicHeader(long tableOffset, long maxTableEntries, int blockSize, UUID parentUniqueId,
        Instant parentTimestamp, String parentName, List<LocatorEntry> locators) {

    static final int SIZE = 1024;
    static final int MIN_BLOCK_SIZE = 512;
    static final int DEFAULT_BLOCK_SIZE = 2 << 20;
    private static final byte[] COOKIE = "cxsparse".getBytes(StandardCharsets.US_ASCII);
    private static final int CHECKSUM_OFFSET = 36;
    private static final int VERSION = 0x0001_0000;
    private static final int NAME_OFFSET = 64;
    private static final int NAME_BYTES = 512;
    private static final int LOCATORS_OFFSET = 576;
    private static final int LOCATOR_SIZE = 24;
    static final int LOCATOR_COUNT = 8;

    /**
     * One parent locator entry as stored: where its data lies in the file.
     *
     * @param platformCode 0 for an unused entry
     * @param dataSpace    the room reserved for the data (sectors by the spec; some tools write bytes)
     */
    record LocatorEntry(int platformCode, int dataSpace, int dataLength, long dataOffset) {

        static final LocatorEntry UNUSED = new LocatorEntry(0, 0, 0, 0);

        boolean used() {
            return platformCode != 0;
        }
    }

    /** Parses and checks a header: cookie, checksum, block size. */
    static DynamicHeader parse(ByteBuffer header) throws MalformedImageException {
        ByteBuffer b = header.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.limit() < SIZE) {
            throw new MalformedImageException("has a truncated dynamic VHD header (" + b.limit() + " of 1024 bytes)");
        }
        if (!b.slice(0, COOKIE.length).equals(ByteBuffer.wrap(COOKIE))) {
            throw new MalformedImageException("has no dynamic VHD header (\"cxsparse\") where its footer says");
        }
        int stored = b.getInt(CHECKSUM_OFFSET);
        int computed = VhdFooter.checksum(b.slice(0, SIZE), CHECKSUM_OFFSET);
        if (stored != computed) {
            throw new MalformedImageException("has a damaged dynamic VHD header: its checksum is 0x"
                    + Integer.toHexString(stored) + " but its bytes sum to 0x" + Integer.toHexString(computed));
        }
        int blockSize = b.getInt(32);
        if (blockSize < MIN_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            throw new MalformedImageException("has an impossible VHD block size (" + Integer.toUnsignedString(blockSize)
                    + " bytes; it must be a power of two of at least 512)");
        }
        List<LocatorEntry> locators = new ArrayList<>();
        for (int i = 0; i < LOCATOR_COUNT; i++) {
            int at = LOCATORS_OFFSET + i * LOCATOR_SIZE;
            locators.add(new LocatorEntry(b.getInt(at), b.getInt(at + 4), b.getInt(at + 8), b.getLong(at + 16)));
        }
        return new DynamicHeader(b.getLong(16), Integer.toUnsignedLong(b.getInt(28)), blockSize,
                new UUID(b.getLong(40), b.getLong(48)), VhdFooter.timestamp(b.getInt(56)), parentName(b), locators);
    }

    /** The header's 1024 bytes, checksum included. */
    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.BIG_ENDIAN);
        b.put(0, COOKIE)
                .putLong(8, VhdFooter.NO_DATA_OFFSET)
                .putLong(16, tableOffset)
                .putInt(24, VERSION)
                .putInt(28, (int) maxTableEntries)
                .putInt(32, blockSize)
                .putLong(40, parentUniqueId.getMostSignificantBits())
                .putLong(48, parentUniqueId.getLeastSignificantBits())
                .putInt(56, (int) (parentTimestamp.getEpochSecond() - VhdFooter.EPOCH.getEpochSecond()));
        byte[] name = parentName.getBytes(StandardCharsets.UTF_16BE);
        b.put(NAME_OFFSET, name, 0, Math.min(name.length, NAME_BYTES));
        for (int i = 0; i < Math.min(LOCATOR_COUNT, locators.size()); i++) {
            LocatorEntry l = locators.get(i);
            int at = LOCATORS_OFFSET + i * LOCATOR_SIZE;
            b.putInt(at, l.platformCode()).putInt(at + 4, l.dataSpace()).putInt(at + 8, l.dataLength()).putLong(at + 16, l.dataOffset());
        }
        return b.putInt(CHECKSUM_OFFSET, VhdFooter.checksum(b, CHECKSUM_OFFSET));
    }

    /** The header of a dynamic disk: no parent. */
    static DynamicHeader dynamic(long tableOffset, long entries, int blockSize) {
        return new DynamicHeader(tableOffset, entries, blockSize, new UUID(0, 0), VhdFooter.EPOCH, "",
                List.of(LocatorEntry.UNUSED));
    }

    /** Bytes of the sector bitmap in front of each block: a bit per sector, padded to a whole sector. */
    long bitmapSize() {
        long bytes = (blockSize / 512 + 7) / 8;
        return (bytes + 511) & ~511L;
    }

    /** Bytes of the table as stored: its entries, padded to a whole sector. */
    long tableBytes() {
        return (maxTableEntries * 4 + 511) & ~511L;
    }

    private static String parentName(ByteBuffer b) {
        byte[] bytes = new byte[NAME_BYTES];
        b.get(NAME_OFFSET, bytes);
        int length = 0;
        while (length + 1 < NAME_BYTES && (bytes[length] != 0 || bytes[length + 1] != 0)) {
            length += 2;
        }
        return printable(new String(bytes, 0, length, StandardCharsets.UTF_16BE));
    }

    /** Text from a header with anything unprintable shown as '?', so a message cannot carry control characters. */
    static String printable(String text) {
        StringBuilder s = new StringBuilder();
        text.codePoints().forEach(c -> s.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return s.toString();
    }
}
