package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a qcow2 image's header says about other files: its backing file and its external data file.
 * Read by our own code, never by qemu-img, so an image is judged before any QEMU code parses it.
 * Layout: https://qemu-project.gitlab.io/qemu/interop/qcow2.html (big-endian; header extensions
 * follow the header, inside the first cluster).
 *
 * @param backingFile  the backing file the header names (as far as it can be read), or null for none
 * @param dataFile     the external data file: its name from the header extension, "(unnamed)" if only
 *                     the incompatible feature bit says there is one, or null for none
 * @param unknownIncompatibleFeatures incompatible feature bits this reader does not know (QEMU 7.2's
 *                     are 0 to 4); an image that sets one may mean anything, other files included
 */
public record QcowHeader(int version, int clusterBits, String backingFile, String dataFile, long unknownIncompatibleFeatures) {

    public static final int MAGIC = 0x514649fb; // "QFI\xfb"
    static final int V2_HEADER_LENGTH = 72;
    static final int V3_HEADER_LENGTH = 104;
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    /** QEMU refuses longer backing file names; a longer one is shown only by its length. */
    static final int MAX_BACKING_NAME = 1023;
    static final long INCOMPATIBLE_DATA_FILE = 1L << 2;
    static final long KNOWN_INCOMPATIBLE = 0x1f;
    static final int EXTENSION_END = 0;
    static final int EXTENSION_DATA_FILE = 0x44415441; // "DATA"

    /** Reads the header and its extensions from the image's first cluster. */
    public static QcowHeader read(Path image) throws IOException {
        try (FileChannel file = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer fixed = ImageBytes.read(file, 0, V3_HEADER_LENGTH);
            int clusterBits = fixed.limit() >= 24 ? fixed.getInt(20) : MIN_CLUSTER_BITS;
            int firstCluster = clusterBits >= MIN_CLUSTER_BITS && clusterBits <= MAX_CLUSTER_BITS
                    ? 1 << clusterBits : V3_HEADER_LENGTH;
            return parse(ImageBytes.read(file, 0, firstCluster));
        }
    }

    /**
     * Parses an image's first bytes (its first cluster, or all of it if the file is shorter).
     *
     * @throws MalformedImageException if they are not a qcow2 header QEMU 7.2 could open, or are damaged
     */
    public static QcowHeader parse(ByteBuffer first) throws MalformedImageException {
        ByteBuffer b = first.duplicate().order(ByteOrder.BIG_ENDIAN);
        int length = b.limit();
        if (length < 4 || b.getInt(0) != MAGIC) {
            throw new MalformedImageException("is not a qcow2 image (it does not start with QFI\\xfb)");
        }
        if (length < V2_HEADER_LENGTH) {
            throw new MalformedImageException("has a truncated qcow2 header (" + length + " bytes)");
        }
        int version = b.getInt(4);
        if (version != 2 && version != 3) {
            throw new MalformedImageException("is qcow2 version " + Integer.toUnsignedString(version) + "; only versions 2 and 3 are supported");
        }
        long backingOffset = b.getLong(8);
        long backingSize = Integer.toUnsignedLong(b.getInt(16));
        int clusterBits = b.getInt(20);
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw new MalformedImageException("has an impossible qcow2 cluster size (2^" + Integer.toUnsignedString(clusterBits) + " bytes)");
        }
        long incompatible = 0;
        long headerLength = V2_HEADER_LENGTH;
        if (version == 3) {
            if (length < V3_HEADER_LENGTH) {
                throw new MalformedImageException("has a truncated qcow2 version 3 header (" + length + " bytes)");
            }
            incompatible = b.getLong(72);
            headerLength = Integer.toUnsignedLong(b.getInt(100));
            if (headerLength < V3_HEADER_LENGTH || headerLength % 8 != 0 || headerLength > 1L << clusterBits) {
                throw new MalformedImageException("has an impossible qcow2 header length (" + headerLength + ")");
            }
        }
        String backing = backingOffset == 0 && backingSize == 0 ? null : backingName(b, backingOffset, backingSize);
        // QEMU reads extensions up to the backing file's name, or to the end of the first cluster.
        long end = backingOffset > 0 && backingOffset < 1L << clusterBits ? backingOffset : 1L << clusterBits;
        String dataFile = dataFileName(b, headerLength, end);
        if (dataFile == null && (incompatible & INCOMPATIBLE_DATA_FILE) != 0) {
            dataFile = "(unnamed)";
        }
        return new QcowHeader(version, clusterBits, backing, dataFile, incompatible & ~KNOWN_INCOMPATIBLE);
    }

    /** The name of the backing file if it lies in the bytes read and is of a length QEMU accepts; else where it claims to be. */
    private static String backingName(ByteBuffer b, long offset, long size) {
        if (size == 0 || size > MAX_BACKING_NAME || offset < 0 || offset + size > b.limit()) {
            return "(" + size + " bytes at offset " + Long.toUnsignedString(offset) + ")";
        }
        return text(b, (int) offset, (int) size);
    }

    /** Walks the header extensions; returns the external data file's name, if one is named. */
    private static String dataFileName(ByteBuffer b, long start, long end) throws MalformedImageException {
        String dataFile = null;
        long offset = start;
        while (offset < end) {
            if (offset + 8 > Math.min(end, b.limit())) {
                throw new MalformedImageException("has qcow2 header extensions that run past the first cluster or the file");
            }
            int type = b.getInt((int) offset);
            long size = Integer.toUnsignedLong(b.getInt((int) offset + 4));
            if (type == EXTENSION_END) {
                return dataFile;
            }
            long data = offset + 8;
            if (data + size > Math.min(end, b.limit())) {
                throw new MalformedImageException("has a qcow2 header extension (0x" + Integer.toHexString(type)
                        + ") of " + size + " bytes that runs past the first cluster or the file");
            }
            if (type == EXTENSION_DATA_FILE) {
                dataFile = size == 0 ? "(unnamed)" : text(b, (int) data, (int) size);
            }
            offset = data + ((size + 7) & ~7L);
        }
        return dataFile;
    }

    /** A name from the header, with anything unprintable shown as '?', so a message cannot carry control bytes. */
    private static String text(ByteBuffer b, int offset, int size) {
        byte[] bytes = new byte[size];
        b.get(offset, bytes);
        StringBuilder s = new StringBuilder();
        new String(bytes, StandardCharsets.UTF_8).codePoints()
                .forEach(c -> s.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return s.toString();
    }

    /** Why QEMU would open other files than this one for it, or empty when it is self-contained. */
    public Optional<String> externalFiles() {
        List<String> reasons = new ArrayList<>();
        if (backingFile != null) {
            reasons.add("names a backing file '" + backingFile + "'");
        }
        if (dataFile != null) {
            reasons.add("keeps its data in an external data file '" + dataFile + "'");
        }
        if (unknownIncompatibleFeatures != 0) {
            reasons.add("sets incompatible features unknown to Hypervise (0x" + Long.toHexString(unknownIncompatibleFeatures) + ")");
        }
        return reasons.isEmpty() ? Optional.empty() : Optional.of(String.join(" and ", reasons));
    }
}
