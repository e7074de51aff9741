package io.hypervise.engine.storage.vhd;

import java.io.Closeable;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * A VHD and the parents it reads through, child first: what the child's virtual disk holds. A parent
 * smaller than its child reads as zeros past its end.
 */
final class VhdChain implements Closeable {

    private final List<VhdImage> images;

    VhdChain(List<VhdImage> images) {
        this.images = List.copyOf(images);
    }

    long virtualSize() {
        return images.getFirst().virtualSize();
    }

    /** Reads whole sectors of the child's virtual disk. */
    void read(long offset, byte[] into, int at, int length) throws IOException {
        read(0, offset, into, at, length);
    }

    /** Whether no file of the chain holds any sector of the range, which therefore reads as zeros. */
    boolean holdsNone(long offset, long length) throws IOException {
        for (VhdImage image : images) {
            long inside = Math.min(length, image.virtualSize() - offset);
            if (inside > 0 && !image.holdsNone(offset, inside)) {
                return false;
            }
        }
        return true;
    }

    private void read(int level, long offset, byte[] into, int at, int length) throws IOException {
        if (level == images.size()) {
            Arrays.fill(into, at, at + length, (byte) 0);
            return;
        }
        VhdImage image = images.get(level);
        int inside = (int) Math.max(0, Math.min(length, image.virtualSize() - offset));
        Arrays.fill(into, at + inside, at + length, (byte) 0);
        if (inside > 0) {
            VhdImage.Sectors below = image.type() == VhdType.DIFFERENCING
                    ? (o, b, a, l) -> read(level + 1, o, b, a, l) : VhdImage.Sectors.ZEROS;
            image.read(offset, into, at, inside, below);
        }
    }

    @Override
    public void close() throws IOException {
        IOException failure = null;
        for (VhdImage image : images) {
            try {
                image.close();
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
