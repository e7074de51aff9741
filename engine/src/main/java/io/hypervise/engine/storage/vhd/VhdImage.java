package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.storage.ImageBytes;
import io.hypervise.engine.storage.ImageSignature;
import io.hypervise.engine.storage.MalformedImageException;
import io.hypervise.engine.storage.VhdFooter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * One VHD file, opened and checked: footer, dynamic header, parent locators and every block allocation
 * table entry are validated before any data is read, so a damaged or hostile file fails with a reason
 * instead of reading outside its structures. Reads its sectors; a differencing disk's missing sectors
 * come from whatever reader the caller passes as "below".
 */
final class VhdImage implements Closeable {

    /** The most bytes of a parent locator read: a Windows path is at most 32767 UTF-16 characters. */
    static final int MAX_LOCATOR_BYTES = 64 * 1024;
    private static final int SECTOR = 512;
    private static final int FOOTER = VhdFooter.FOOTER_SIZE;

    /** Sectors of the virtual disk from somewhere else: a parent, or zeros. */
    @FunctionalInterface
    interface Sectors {
        Sectors ZEROS = (offset, into, at, length) -> Arrays.fill(into, at, at + length, (byte) 0);

        void read(long offset, byte[] into, int at, int length) throws IOException;
    }

    private final FileChannel file;
    private final VhdFooter footer;
    private final VhdType type;
    private final DynamicHeader header;
    private final BlockTable table;
    private final VhdParent parent;
    private byte[] bitmap;
    private long bitmapBlock = -1;

    private VhdImage(FileChannel file, VhdFooter footer, DynamicHeader header, BlockTable table, VhdParent parent) {
        this.file = file;
        this.footer = footer;
        this.type = VhdType.of(footer);
        this.header = header;
        this.table = table;
        this.parent = parent;
    }

    /** Opens and checks the image; the caller closes it. */
    static VhdImage open(Path path) throws IOException {
        FileChannel file = FileChannel.open(path, StandardOpenOption.READ);
        try {
            return check(file);
        } catch (IOException | RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static VhdImage check(FileChannel file) throws IOException {
        long size = file.size();
        if (size < FOOTER) {
            throw new MalformedImageException("is too short to be a VHD (" + size + " bytes; a VHD ends with a 512-byte footer)");
        }
        VhdFooter footer = VhdFooter.read(file);
        boolean copyAtStart = ImageSignature.VHD.startsWith(ImageBytes.read(file, 0, 8));
        if (footer.fixed()) {
            if (copyAtStart) {
                throw new MalformedImageException("has a fixed-disk VHD footer at its start, where only dynamic and"
                        + " differencing disks keep a copy");
            }
            if (size - FOOTER < footer.currentSize()) {
                throw new MalformedImageException("is truncated: its footer declares " + footer.currentSize()
                        + " bytes of data but the file holds " + (size - FOOTER));
            }
            return new VhdImage(file, footer, null, null, null);
        }
        if (!copyAtStart) {
            throw new MalformedImageException("is a " + footer.typeName() + " VHD without the copy of its footer at"
                    + " its start (QEMU would read it as a fixed disk)");
        }
        if (!ImageSignature.VHD.startsWith(ImageBytes.read(file, size - FOOTER, 8))) {
            throw new MalformedImageException("is truncated or damaged: a " + footer.typeName() + " VHD ends with a copy"
                    + " of its footer, and this one (" + size + " bytes) does not");
        }
        long end = size - FOOTER;
        long headerAt = footer.dataOffset();
        if (headerAt < FOOTER || headerAt > end - DynamicHeader.SIZE) {
            throw new MalformedImageException("places its dynamic VHD header at offset " + Long.toUnsignedString(headerAt)
                    + ", outside the file (" + size + " bytes)");
        }
        DynamicHeader header = DynamicHeader.parse(ImageBytes.read(file, headerAt, DynamicHeader.SIZE));
        long blocks = (footer.currentSize() + header.blockSize() - 1) / header.blockSize();
        if (header.maxTableEntries() < blocks) {
            throw new MalformedImageException("has a block allocation table of " + header.maxTableEntries()
                    + " entries, too few for its " + footer.currentSize() + "-byte disk (it needs " + blocks + ")");
        }
        long tableAt = header.tableOffset();
        long tableEnd = tableAt + header.maxTableEntries() * 4;
        if (tableAt < FOOTER || tableAt > end || tableEnd > end) {
            throw new MalformedImageException("has a block allocation table (" + header.maxTableEntries() + " entries at offset "
                    + Long.toUnsignedString(tableAt) + ") that does not lie inside the file (" + size + " bytes)");
        }
        if (overlaps(tableAt, tableEnd, headerAt, headerAt + DynamicHeader.SIZE)) {
            throw new MalformedImageException("has a block allocation table that overlaps its dynamic header");
        }
        BlockTable table = new BlockTable(file, tableAt, blocks);
        long blockBytes = header.bitmapSize() + header.blockSize();
        for (long block = 0; block < blocks; block++) {
            long sector = table.sector(block);
            if (sector == BlockTable.UNALLOCATED) {
                continue;
            }
            long start = sector * SECTOR;
            long stop = start + blockBytes;
            if (start < FOOTER || overlaps(start, stop, headerAt, headerAt + DynamicHeader.SIZE)
                    || overlaps(start, stop, tableAt, tableEnd)) {
                throw new MalformedImageException("has a block allocation table entry (block " + block + ", sector " + sector
                        + ") that points into the VHD's own footer, header or table");
            }
            if (stop > end) {
                throw new MalformedImageException("has a block allocation table entry (block " + block + ", sector " + sector
                        + ") that points past the end of the file (" + size + " bytes): the image is truncated or damaged");
            }
        }
        VhdParent parent = footer.diskType() == VhdFooter.DIFFERENCING ? parentOf(file, header, size) : null;
        return new VhdImage(file, footer, header, table, parent);
    }

    private static VhdParent parentOf(FileChannel file, DynamicHeader header, long size) throws IOException {
        List<ParentLocator> locators = new ArrayList<>();
        for (DynamicHeader.LocatorEntry entry : header.locators()) {
            if (!entry.used()) {
                continue;
            }
            ParentLocator.Platform platform = ParentLocator.Platform.of(entry.platformCode());
            if (platform == null) {
                throw new MalformedImageException("has a parent locator of unknown platform 0x"
                        + Integer.toHexString(entry.platformCode()));
            }
            long length = Integer.toUnsignedLong(entry.dataLength());
            if (length > MAX_LOCATOR_BYTES) {
                throw new MalformedImageException("has a parent locator (" + platform.label() + ") of " + length
                        + " bytes, more than any path needs");
            }
            long at = entry.dataOffset();
            if (at < 0 || at > size - length) {
                throw new MalformedImageException("has a parent locator (" + platform.label() + ") whose data lies outside"
                        + " the file (" + length + " bytes at offset " + Long.toUnsignedString(at) + ")");
            }
            ByteBuffer data = ImageBytes.read(file, at, (int) length);
            locators.add(new ParentLocator(platform, text(platform, data)));
        }
        return new VhdParent(header.parentUniqueId(), header.parentTimestamp(), header.parentName(), locators);
    }

    private static String text(ParentLocator.Platform platform, ByteBuffer data) {
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        String text = switch (platform) {
            case W2KU, W2RU -> new String(bytes, StandardCharsets.UTF_16LE);
            case WI2K, WI2R, MACX -> new String(bytes, StandardCharsets.UTF_8);
            case MAC -> "(Mac alias record)";
        };
        int nul = text.indexOf('\0');
        return DynamicHeader.printable(nul < 0 ? text : text.substring(0, nul));
    }

    private static boolean overlaps(long start, long end, long otherStart, long otherEnd) {
        return start < otherEnd && otherStart < end;
    }

    VhdType type() {
        return type;
    }

    VhdFooter footer() {
        return footer;
    }

    long virtualSize() {
        return footer.currentSize();
    }

    /** The parent a differencing disk names; empty for the others. */
    Optional<VhdParent> parent() {
        return Optional.ofNullable(parent);
    }

    VhdDescription description() {
        return new VhdDescription(type, virtualSize(), footer.uniqueId(), footer.creatorApplication(), parent());
    }

    /** Whether this file holds no sector of the range: a fixed disk holds all, a dynamic one its allocated blocks. */
    boolean holdsNone(long offset, long length) throws IOException {
        if (type == VhdType.FIXED) {
            return length <= 0;
        }
        long blockSize = header.blockSize();
        for (long block = offset / blockSize; block * blockSize < offset + length; block++) {
            if (table.sector(block) != BlockTable.UNALLOCATED) {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads whole sectors of the virtual disk (offset and length multiples of 512, inside the disk). Sectors
     * a dynamic disk does not hold are read from {@code below}: zeros for a dynamic disk, its parent for a
     * differencing one.
     */
    void read(long offset, byte[] into, int at, int length, Sectors below) throws IOException {
        if (type == VhdType.FIXED) {
            readFully(offset, into, at, length);
            return;
        }
        long blockSize = header.blockSize();
        while (length > 0) {
            long block = offset / blockSize;
            int inBlock = (int) (offset % blockSize);
            int n = (int) Math.min(length, blockSize - inBlock);
            long sector = table.sector(block);
            if (sector == BlockTable.UNALLOCATED) {
                below.read(offset, into, at, n);
            } else {
                readBlock(block, sector * SECTOR, offset, inBlock, into, at, n, below);
            }
            offset += n;
            at += n;
            length -= n;
        }
    }

    /** A run of an allocated block: sectors whose bitmap bit is set are in this file, the others below. */
    private void readBlock(long block, long blockAt, long offset, int inBlock, byte[] into, int at, int length,
            Sectors below) throws IOException {
        byte[] present = bitmap(block, blockAt);
        long dataAt = blockAt + header.bitmapSize();
        int first = inBlock / SECTOR;
        int last = first + length / SECTOR;
        int run = first;
        while (run < last) {
            boolean inFile = isSet(present, run);
            int next = run + 1;
            while (next < last && isSet(present, next) == inFile) {
                next++;
            }
            int to = at + (run - first) * SECTOR;
            int bytes = (next - run) * SECTOR;
            if (inFile) {
                readFully(dataAt + (long) run * SECTOR, into, to, bytes);
            } else {
                below.read(offset + (long) (run - first) * SECTOR, into, to, bytes);
            }
            run = next;
        }
    }

    private byte[] bitmap(long block, long blockAt) throws IOException {
        if (bitmap == null) {
            bitmap = new byte[(int) header.bitmapSize()];
        }
        if (bitmapBlock != block) {
            bitmapBlock = -1;
            readFully(blockAt, bitmap, 0, bitmap.length);
            bitmapBlock = block;
        }
        return bitmap;
    }

    /** The bitmap's bit for a sector: most significant bit first. */
    private static boolean isSet(byte[] bitmap, int sector) {
        return (bitmap[sector >>> 3] & (0x80 >>> (sector & 7))) != 0;
    }

    private void readFully(long position, byte[] into, int at, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(into, at, length);
        while (buffer.hasRemaining()) {
            if (file.read(buffer, position + buffer.position() - at) < 0) {
                throw new MalformedImageException("is truncated: reading " + length + " bytes at offset " + position
                        + " ran past the end of the file");
            }
        }
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
