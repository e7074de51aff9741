package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.storage.MalformedImageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;

/**
 * A dynamic VHD's block allocation table (big-endian uint32 sector numbers, all ones for a block not in
 * the file), read a window at a time: with small blocks a table can be gigabytes, and is never held whole.
 */
final class BlockTable {

    static final long UNALLOCATED = -1;
    private static final int WINDOW_ENTRIES = 16 * 1024;

    private final FileChannel file;
    private final long offset;
    private final long entries;
    private final ByteBuffer window = ByteBuffer.allocate(WINDOW_ENTRIES * 4).order(ByteOrder.BIG_ENDIAN);
    private long windowStart = -1;

    BlockTable(FileChannel file, long offset, long entries) {
        this.file = file;
        this.offset = offset;
        this.entries = entries;
    }

    /** The sector at which block {@code index}'s bitmap starts, or {@link #UNALLOCATED}. */
    long sector(long index) throws IOException {
        if (index < 0 || index >= entries) {
            return UNALLOCATED;
        }
        long start = index - index % WINDOW_ENTRIES;
        if (start != windowStart) {
            load(start);
        }
        int entry = window.getInt((int) (index - start) * 4);
        return entry == -1 ? UNALLOCATED : Integer.toUnsignedLong(entry);
    }

    private void load(long start) throws IOException {
        int bytes = (int) Math.min(WINDOW_ENTRIES, entries - start) * 4;
        window.clear().limit(bytes);
        while (window.hasRemaining()) {
            if (file.read(window, offset + start * 4 + window.position()) < 0) {
                windowStart = -1;
                throw new MalformedImageException("is truncated: its block allocation table runs past the end of the file");
            }
        }
        windowStart = start;
    }
}
