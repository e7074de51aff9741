package io.hypervise.engine.storage.vhd;

import io.hypervise.engine.storage.MalformedImageException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Turns a fixed, dynamic or differencing VHD (with its chain of parents) into a sparse raw image, by our
 * own reader rather than QEMU's, whose vpc driver reads a differencing disk as if it had no parent.
 * Parents are found only through the {@link ParentResolver}: the paths a VHD names are never opened.
 */
public final class VhdImport {

    /** The most files a chain may have, the child included. */
    public static final int MAX_CHAIN = 16;
    static final int CHUNK = 1 << 20;
    private static final byte[] ZEROS = new byte[CHUNK];

    private final ParentResolver parents;

    public VhdImport(ParentResolver parents) {
        this.parents = parents;
    }

    /** What the VHD is, from its footer and header alone (its parent is named, not opened). */
    public static VhdDescription describe(Path vhd) throws IOException {
        try (VhdImage image = VhdImage.open(vhd)) {
            return image.description();
        }
    }

    /**
     * Writes the VHD's virtual disk to {@code raw}, a new file, leaving holes where the disk reads zeros.
     * A failed import leaves no file behind.
     *
     * @return the virtual disk's size in bytes, which is the raw file's length
     * @throws MalformedImageException if the VHD or a parent is damaged
     * @throws VhdParentException      if a parent cannot be resolved, is not the one named, or the chain loops or is too deep
     */
    public long toRaw(Path vhd, Path raw, CopyProgress progress) throws IOException {
        try (VhdChain chain = open(vhd)) {
            Files.createFile(raw);
            try {
                copy(chain, raw, progress);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(raw);
                throw e;
            }
            return chain.virtualSize();
        }
    }

    /** Opens the VHD and, through the resolver, each parent it needs, checking each is the one named. */
    VhdChain open(Path vhd) throws IOException {
        List<VhdImage> images = new ArrayList<>();
        try {
            VhdImage image = VhdImage.open(vhd);
            images.add(image);
            Set<Path> files = new HashSet<>(List.of(vhd.toRealPath()));
            Set<UUID> ids = new HashSet<>(List.of(image.footer().uniqueId()));
            while (image.type() == VhdType.DIFFERENCING) {
                VhdParent wanted = image.parent().orElseThrow();
                if (images.size() == MAX_CHAIN) {
                    throw new VhdParentException("is a differencing VHD whose chain has more than " + MAX_CHAIN
                            + " disks; Hypervise follows at most " + MAX_CHAIN);
                }
                Path file = parents.resolve(wanted).orElseThrow(() -> new VhdParentException("is a differencing VHD"
                        + " whose chain needs the parent " + named(wanted) + ", which was not supplied"));
                if (!files.add(file.toRealPath())) {
                    throw new VhdParentException("is a differencing VHD whose chain of parents loops back to '"
                            + file.getFileName() + "'");
                }
                image = openParent(file);
                images.add(image);
                UUID id = image.footer().uniqueId();
                if (!id.equals(wanted.uniqueId())) {
                    throw new VhdParentException("is a differencing VHD whose parent " + named(wanted) + " is not the"
                            + " disk supplied as '" + file.getFileName() + "' (unique id " + id + ")");
                }
                if (!ids.add(id)) {
                    throw new VhdParentException("is a differencing VHD whose chain of parents loops back to unique id " + id);
                }
            }
            return new VhdChain(images);
        } catch (IOException | RuntimeException e) {
            new VhdChain(images).close();
            throw e;
        }
    }

    private static VhdImage openParent(Path file) throws IOException {
        try {
            return VhdImage.open(file);
        } catch (MalformedImageException e) {
            throw new MalformedImageException("has a parent, '" + file.getFileName() + "', that " + e.getMessage());
        }
    }

    private static String named(VhdParent parent) {
        String name = parent.names().stream().findFirst().orElse("(unnamed)");
        return "'" + name + "' (unique id " + parent.uniqueId() + ")";
    }

    private static void copy(VhdChain chain, Path raw, CopyProgress progress) throws IOException {
        long size = chain.virtualSize();
        byte[] buffer = new byte[CHUNK];
        try (RandomAccessFile file = new RandomAccessFile(raw.toFile(), "rw")) {
            FileChannel out = file.getChannel();
            long done = 0;
            progress.advanced(done, size);
            while (done < size) {
                int n = (int) Math.min(CHUNK, size - done);
                if (!chain.holdsNone(done, n)) {
                    chain.read(done, buffer, 0, n);
                    if (!Arrays.equals(buffer, 0, n, ZEROS, 0, n)) {
                        writeFully(out, ByteBuffer.wrap(buffer, 0, n), done);
                    }
                }
                done += n;
                progress.advanced(done, size);
            }
            file.setLength(size);
        }
    }

    static void writeFully(FileChannel out, ByteBuffer bytes, long position) throws IOException {
        long at = position;
        while (bytes.hasRemaining()) {
            at += out.write(bytes, at);
        }
    }
}
