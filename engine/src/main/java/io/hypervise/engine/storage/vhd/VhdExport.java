package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.storage.VhdFooter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Arrays;
import java.util.UUID;

/**
 * Writes a raw disk as a fixed or dynamic VHD the way Hyper-V makes them: a whole number of MiB (the
 * source zero-padded), creator application "win " and the spec's geometry. By that creator QEMU's vpc
 * driver (like Hyper-V) takes the disk's size from the footer's current size, not from the geometry,
 * which rounds down: so {@code qemu-img} reads back exactly the size written.
 */
public final class VhdExport {

    static final long MIB = 1 << 20;
    /** Hyper-V's creator application; QEMU sizes disks with it by their current size. */
    static final String CREATOR_APPLICATION = "win ";
    /** Hyper-V's version 10.0. */
    static final int CREATOR_VERSION = 0x000A_0000;
    static final String CREATOR_HOST_OS = "Wi2k";
    static final int BLOCK_SIZE = DynamicHeader.DEFAULT_BLOCK_SIZE;
    static final long TABLE_OFFSET = VhdFooter.FOOTER_SIZE + DynamicHeader.SIZE;
    private static final int WRITE_PIECE = 64 * 1024;
    private static final byte[] ZEROS = new byte[BLOCK_SIZE];

    private final Clock clock;

    public VhdExport(Clock clock) {
        this.clock = clock;
    }

    /** The size of the VHD's disk for a source of {@code bytes}: rounded up to a whole MiB. */
    public static long virtualSize(long bytes) {
        return (bytes + MIB - 1) / MIB * MIB;
    }

    /**
     * Writes a fixed VHD, a new file: the source's bytes, zeros to the next MiB, the footer. Zero runs are
     * left as holes. The source must not change meanwhile.
     *
     * @return the virtual disk's size in bytes
     * @throws VhdExportException if the source is empty or larger than 2040 GiB
     */
    public long toFixed(FileChannel source, Path vhd, CopyProgress progress) throws IOException {
        long size = checkedSize(source);
        return write(vhd, out -> {
            byte[] buffer = new byte[BLOCK_SIZE];
            for (long done = 0; done < size; ) {
                int n = (int) Math.min(BLOCK_SIZE, size - done);
                readPadded(source, done, buffer, n);
                writeNonZero(out, buffer, n, done);
                done += n;
                progress.advanced(done, size);
            }
            VhdImport.writeFully(out, footer(VhdFooter.FIXED, size, VhdFooter.NO_DATA_OFFSET).encode(), size);
        }, size, progress);
    }

    /**
     * Writes a dynamic VHD, a new file: footer copy, header, block allocation table, then a 2 MiB block
     * for each part of the source that is not all zeros, then the footer. The source must not change meanwhile.
     *
     * @return the virtual disk's size in bytes
     * @throws VhdExportException if the source is empty or larger than 2040 GiB
     */
    public long toDynamic(FileChannel source, Path vhd, CopyProgress progress) throws IOException {
        long size = checkedSize(source);
        int blocks = (int) ((size + BLOCK_SIZE - 1) / BLOCK_SIZE);
        DynamicHeader header = DynamicHeader.dynamic(TABLE_OFFSET, blocks, BLOCK_SIZE);
        return write(vhd, out -> {
            ByteBuffer table = ByteBuffer.allocate((int) header.tableBytes()).order(ByteOrder.BIG_ENDIAN);
            Arrays.fill(table.array(), (byte) 0xFF);
            byte[] bitmap = new byte[(int) header.bitmapSize()];
            Arrays.fill(bitmap, (byte) 0xFF);
            byte[] buffer = new byte[BLOCK_SIZE];
            long next = TABLE_OFFSET + header.tableBytes();
            for (int block = 0; block < blocks; block++) {
                long from = (long) block * BLOCK_SIZE;
                int n = (int) Math.min(BLOCK_SIZE, size - from);
                readPadded(source, from, buffer, n);
                if (!Arrays.equals(buffer, 0, n, ZEROS, 0, n)) {
                    table.putInt(block * 4, (int) (next / 512));
                    VhdImport.writeFully(out, ByteBuffer.wrap(bitmap), next);
                    writeNonZero(out, buffer, BLOCK_SIZE, next + bitmap.length);
                    next += bitmap.length + BLOCK_SIZE;
                }
                progress.advanced(from + n, size);
            }
            ByteBuffer footer = footer(VhdFooter.DYNAMIC, size, VhdFooter.FOOTER_SIZE).encode();
            VhdImport.writeFully(out, table, TABLE_OFFSET);
            VhdImport.writeFully(out, header.encode(), VhdFooter.FOOTER_SIZE);
            VhdImport.writeFully(out, footer.duplicate(), next);
            VhdImport.writeFully(out, footer, 0);
        }, size, progress);
    }

    private VhdFooter footer(int type, long size, long dataOffset) {
        return new VhdFooter(type, dataOffset, clock.instant(), CREATOR_APPLICATION, CREATOR_VERSION, CREATOR_HOST_OS,
                size, size, VhdFooter.Geometry.forSectors(size / 512), UUID.randomUUID(), false);
    }

    private static long checkedSize(FileChannel source) throws IOException {
        long bytes = source.size();
        if (bytes == 0) {
            throw new VhdExportException("is empty: there is no disk to write as a VHD");
        }
        long size = virtualSize(bytes);
        if (size > VhdFooter.MAX_SIZE) {
            throw new VhdExportException("is " + bytes + " bytes, more than the 2040 GiB a VHD can hold");
        }
        return size;
    }

    @FunctionalInterface
    private interface Body {
        void write(FileChannel out) throws IOException;
    }

    /** Creates the file, writes it, and deletes it if writing fails. */
    private static long write(Path vhd, Body body, long size, CopyProgress progress) throws IOException {
        progress.advanced(0, size);
        try (FileChannel out = FileChannel.open(vhd, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            try {
                body.write(out);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(vhd);
                throw e;
            }
        }
        return size;
    }

    /** Reads {@code length} bytes of the source from {@code position}, zeros where the source ends sooner. */
    private static void readPadded(FileChannel source, long position, byte[] into, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(into, 0, length);
        while (buffer.hasRemaining() && source.read(buffer, position + buffer.position()) >= 0) {
            // until full or at the source's end
        }
        Arrays.fill(into, buffer.position(), length, (byte) 0);
    }

    /** Writes the pieces that are not all zeros, leaving holes for the rest (the file reads zeros there). */
    private static void writeNonZero(FileChannel out, byte[] bytes, int length, long position) throws IOException {
        for (int at = 0; at < length; at += WRITE_PIECE) {
            int n = Math.min(WRITE_PIECE, length - at);
            if (!Arrays.equals(bytes, at, at + n, ZEROS, 0, n)) {
                VhdImport.writeFully(out, ByteBuffer.wrap(bytes, at, n), position + at);
            }
        }
    }
}
