package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;

/** Reads a bounded run of an image's bytes; a file that ends sooner gives fewer. */
public final class ImageBytes {

    private ImageBytes() {
    }

    /** Up to {@code length} bytes from {@code position}, big-endian as every image format here is. */
    public static ByteBuffer read(FileChannel file, long position, int length) throws IOException {
        long available = Math.max(0, file.size() - position);
        ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(length, available)).order(ByteOrder.BIG_ENDIAN);
        while (buffer.hasRemaining() && file.read(buffer, position + buffer.position()) > 0) {
            // until full or at the end of the file
        }
        return buffer.flip();
    }
}
