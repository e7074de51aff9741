package io.hypervise.server.console;

import io.hypervise.engine.display.VmDisplay;
import io.hypervise.engine.qmp.DeadlineSocket;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.imageio.ImageIO;

/**
 * One frame of a VM's display, read the way a viewer reads it: a shared RFB 3.8 session on the
 * worker's display socket asking for one full update in raw 32-bit pixels. The thumbnails of the VM
 * lists are made from it, so they show exactly what the console shows.
 *
 * <p>Why not QMP {@code screendump}: it writes a file in the worker's name on the host, wants a path
 * the worker can write, and blocks that VM's QMP channel (its lifecycle commands) while it does.
 */
public final class ScreenGrab {

    static final int MAX_PIXELS = 4096 * 4096;

    private ScreenGrab() {
    }

    /**
     * The display's current frame, within {@code timeout} from connecting to the last pixel: a stopped
     * worker's display accepts no connection or sends nothing, and must not hang whoever asked.
     *
     * @throws DeadlineSocket.NotAnsweringException if the display did not answer in time
     */
    public static BufferedImage frame(VmDisplay display, Duration timeout) throws IOException {
        return display.exchange(timeout, "read a frame from",
                channel -> read(new DataInputStream(Channels.newInputStream(channel)), channel));
    }

    /** The frame as a PNG, scaled down (never up) to at most {@code maxWidth} pixels wide. */
    public static byte[] png(BufferedImage frame, int maxWidth) {
        BufferedImage image = frame;
        if (frame.getWidth() > maxWidth) {
            int height = Math.max(1, Math.round(frame.getHeight() * (float) maxWidth / frame.getWidth()));
            image = new BufferedImage(maxWidth, height, BufferedImage.TYPE_INT_RGB);
            var g = image.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(frame, 0, 0, maxWidth, height, null);
            g.dispose();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static BufferedImage read(DataInputStream in, SocketChannel out) throws IOException {
        byte[] version = in.readNBytes(12);
        if (version.length < 12 || !new String(version, StandardCharsets.US_ASCII).startsWith("RFB 003.")) {
            throw new IOException("the display does not speak RFB");
        }
        write(out, RfbClientFilter.VERSION_3_8);
        int types = in.readUnsignedByte();
        if (types == 0) {
            throw new IOException("the display refused the session: " + reason(in));
        }
        boolean none = false;
        for (int i = 0; i < types; i++) {
            none |= in.readUnsignedByte() == RfbClientFilter.SECURITY_NONE;
        }
        if (!none) {
            throw new IOException("the display asks for authentication");
        }
        write(out, new byte[] {RfbClientFilter.SECURITY_NONE});
        if (in.readInt() != 0) {
            throw new IOException("the display refused the session: " + reason(in));
        }
        write(out, new byte[] {1}); // ClientInit: shared, the viewers stay connected
        int width = in.readUnsignedShort();
        int height = in.readUnsignedShort();
        in.skipNBytes(16); // the server's pixel format: we ask for ours
        in.skipNBytes(in.readInt()); // the desktop's name
        if ((long) width * height > MAX_PIXELS || width == 0 || height == 0) {
            throw new IOException("the display is " + width + "x" + height + "; not a screen to grab");
        }
        ByteBuffer setup = ByteBuffer.allocate(20 + 8 + 10);
        // SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, 8 bits each, red at 16, green 8, blue 0.
        setup.put((byte) 0).put(new byte[3]).put((byte) 32).put((byte) 24).put((byte) 0).put((byte) 1)
                .putShort((short) 255).putShort((short) 255).putShort((short) 255)
                .put((byte) 16).put((byte) 8).put((byte) 0).put(new byte[3]);
        setup.put((byte) 2).put((byte) 0).putShort((short) 1).putInt(0); // SetEncodings: raw only
        setup.put((byte) 3).put((byte) 0).putShort((short) 0).putShort((short) 0) // FramebufferUpdateRequest: all of it
                .putShort((short) width).putShort((short) height);
        write(out, setup.array());
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        while (true) {
            int type = in.readUnsignedByte();
            switch (type) {
                case 0 -> { // FramebufferUpdate
                    in.skipNBytes(1);
                    int rectangles = in.readUnsignedShort();
                    for (int r = 0; r < rectangles; r++) {
                        readRectangle(in, image);
                    }
                    return image;
                }
                case 2 -> { } // Bell
                case 3 -> { // ServerCutText
                    in.skipNBytes(3);
                    in.skipNBytes(Math.abs((long) in.readInt()));
                }
                default -> throw new IOException("unexpected RFB message " + type + " from the display");
            }
        }
    }

    private static void readRectangle(DataInputStream in, BufferedImage image) throws IOException {
        int x = in.readUnsignedShort();
        int y = in.readUnsignedShort();
        int w = in.readUnsignedShort();
        int h = in.readUnsignedShort();
        int encoding = in.readInt();
        if (encoding != 0) {
            throw new IOException("the display sent encoding " + encoding + ", not raw");
        }
        if (x + w > image.getWidth() || y + h > image.getHeight()) {
            throw new IOException("a rectangle outside the screen");
        }
        byte[] row = new byte[w * 4];
        int[] pixels = new int[w];
        ByteBuffer view = ByteBuffer.wrap(row).order(ByteOrder.LITTLE_ENDIAN);
        for (int line = 0; line < h; line++) {
            in.readFully(row);
            view.rewind();
            for (int i = 0; i < w; i++) {
                pixels[i] = view.getInt() & 0xffffff;
            }
            image.setRGB(x, y + line, w, 1, pixels, 0, w);
        }
    }

    private static String reason(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > 4096) {
            throw new EOFException("a reason of " + length + " bytes");
        }
        return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    private static void write(SocketChannel out, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }
}
