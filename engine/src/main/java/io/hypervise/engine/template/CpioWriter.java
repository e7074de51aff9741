package io.hypervise.engine.template;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Writes a cpio archive in the "newc" format, the one the Linux kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst), so building a guest needs no
 * cpio command. Entries are written in order; a parent directory must come before its entries
 * because the kernel does not create missing parents. Every entry gets owner root and mtime 0,
 * so the same inputs always give the same bytes.
 */
public final class CpioWriter implements Closeable {

    private static final int TYPE_DIRECTORY = 0040000;
    private static final int TYPE_REGULAR = 0100000;
    private static final int TYPE_SYMLINK = 0120000;
    private static final int TYPE_CHARACTER_DEVICE = 0020000;
    private static final String TRAILER = "TRAILER!!!";
    private static final long MAX_FIELD = 0xFFFF_FFFFL;

    private final OutputStream out;
    private final Set<String> directories = new HashSet<>(Set.of(""));
    private final Set<String> names = new HashSet<>();
    private long written;
    private int nextInode = 1;
    private boolean finished;

    public CpioWriter(OutputStream out) {
        this.out = out;
    }

    public void directory(String path, int permissions) throws IOException {
        header(path, TYPE_DIRECTORY | permissions(permissions), 2, 0, 0, 0);
        directories.add(path);
    }

    public void file(String path, int permissions, byte[] content) throws IOException {
        header(path, TYPE_REGULAR | permissions(permissions), 1, content.length, 0, 0);
        write(content, content.length);
        pad();
    }

    /** Streams a host file into the archive; its size is read first because the header holds it. */
    public void file(String path, int permissions, Path source) throws IOException {
        long size = Files.size(source);
        header(path, TYPE_REGULAR | permissions(permissions), 1, size, 0, 0);
        long copied = 0;
        try (InputStream in = Files.newInputStream(source)) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; copied < size && (n = in.read(buffer, 0, (int) Math.min(buffer.length, size - copied))) > 0; ) {
                write(buffer, n);
                copied += n;
            }
        }
        if (copied != size) {
            throw new IOException("file " + source + " changed size while it was archived as " + path);
        }
        pad();
    }

    /** The link target is the entry's data, without a terminating NUL (as GNU cpio writes it). */
    public void symlink(String path, String target) throws IOException {
        byte[] data = target.getBytes(StandardCharsets.UTF_8);
        if (data.length == 0) {
            throw new IllegalArgumentException("symlink " + path + " needs a target");
        }
        header(path, TYPE_SYMLINK | 0777, 1, data.length, 0, 0);
        write(data, data.length);
        pad();
    }

    public void characterDevice(String path, int permissions, int major, int minor) throws IOException {
        header(path, TYPE_CHARACTER_DEVICE | permissions(permissions), 1, 0, major, minor);
    }

    /** Writes the trailer entry that ends the archive; the stream stays open. */
    public void finish() throws IOException {
        if (finished) {
            return;
        }
        writeHeader(TRAILER, 0, 0, 1, 0, 0, 0);
        finished = true;
        out.flush();
    }

    /** Finishes the archive and closes the underlying stream. */
    @Override
    public void close() throws IOException {
        try (out) {
            finish();
        }
    }

    private void header(String path, int mode, int links, long size, int rdevMajor, int rdevMinor)
            throws IOException {
        checkPath(path);
        writeHeader(path, mode, nextInode++, links, size, rdevMajor, rdevMinor);
        names.add(path);
    }

    private void checkPath(String path) {
        if (finished) {
            throw new IllegalStateException("archive already finished; cannot add " + path);
        }
        if (path.isEmpty() || path.startsWith("/") || path.endsWith("/") || path.contains("//")
                || path.equals(TRAILER) || path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("not a relative archive path: '" + path + "'");
        }
        for (String part : path.split("/")) {
            if (part.equals(".") || part.equals("..")) {
                throw new IllegalArgumentException("archive path must not contain . or ..: " + path);
            }
        }
        if (names.contains(path)) {
            throw new IllegalArgumentException("archive already has an entry " + path);
        }
        int slash = path.lastIndexOf('/');
        String parent = slash < 0 ? "" : path.substring(0, slash);
        if (!directories.contains(parent)) {
            throw new IllegalArgumentException(
                    "directory " + parent + " must be added before " + path + " (the kernel does not create parents)");
        }
    }

    // newc header: "070701" then 13 fields of 8 hex digits; header and name together, and the
    // data, are each padded to a multiple of 4 bytes.
    private void writeHeader(String name, int mode, int inode, int links, long size, int rdevMajor, int rdevMinor)
            throws IOException {
        if (size > MAX_FIELD) {
            throw new IOException("entry " + name + " is " + size + " bytes; newc cpio holds at most 4 GiB per file");
        }
        byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.UTF_8);
        StringBuilder header = new StringBuilder(110).append("070701");
        for (long field : new long[] {inode, mode, 0, 0, links, 0, size, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0}) {
            header.append(String.format("%08X", field));
        }
        byte[] headerBytes = header.toString().getBytes(StandardCharsets.US_ASCII);
        write(headerBytes, headerBytes.length);
        write(nameBytes, nameBytes.length);
        pad();
    }

    private static int permissions(int permissions) {
        if ((permissions & ~07777) != 0) {
            throw new IllegalArgumentException("permissions must be within 07777: " + Integer.toOctalString(permissions));
        }
        return permissions;
    }

    private void write(byte[] bytes, int length) throws IOException {
        out.write(bytes, 0, length);
        written += length;
    }

    private void pad() throws IOException {
        int padding = (int) ((4 - written % 4) % 4);
        write(new byte[padding], padding);
    }
}
