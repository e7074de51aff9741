package io.hypervise.bench.console;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal RFB 3.8 viewer that asks for incremental updates back to back, as noVNC does, and
 * measures each: from the request to the end of the update. It reads ZRLE and raw rectangles
 * without decoding them (their lengths are all it needs).
 */
final class RfbBenchClient {

    static final int RAW = 0;
    static final int ZRLE = 16;
    static final int DESKTOP_SIZE = -223;

    private final RfbTransport transport;
    private final DataInputStream in;
    private int width;
    private int height;
    private long bytes;

    final List<Long> latenciesNanos = new ArrayList<>();

    private final boolean rawOnly;

    /** rawOnly: ask for uncompressed pixels (the most bytes a viewer can ask for), else ZRLE as well. */
    RfbBenchClient(RfbTransport transport, boolean rawOnly) {
        this.transport = transport;
        this.rawOnly = rawOnly;
        this.in = new DataInputStream(new CountingStream(transport.in(), this));
    }

    void handshake() throws IOException {
        in.readNBytes(12);
        transport.write("RFB 003.008\n".getBytes(StandardCharsets.US_ASCII));
        int types = in.readUnsignedByte();
        in.readNBytes(types);
        transport.write(new byte[] {1});
        if (in.readInt() != 0) {
            throw new IOException("the display refused the session");
        }
        transport.write(new byte[] {1}); // shared
        width = in.readUnsignedShort();
        height = in.readUnsignedShort();
        in.readNBytes(16);
        in.readNBytes(in.readInt());
        ByteBuffer setup = ByteBuffer.allocate(20 + 4 + 12);
        setup.put((byte) 0).put(new byte[3]).put((byte) 32).put((byte) 24).put((byte) 0).put((byte) 1)
                .putShort((short) 255).putShort((short) 255).putShort((short) 255)
                .put((byte) 16).put((byte) 8).put((byte) 0).put(new byte[3]);
        setup.put((byte) 2).put((byte) 0).putShort((short) 3).putInt(rawOnly ? RAW : ZRLE).putInt(RAW).putInt(DESKTOP_SIZE);
        transport.write(setup.array());
        request(false);
        readUpdate();
    }

    /** Requests and reads updates until the deadline (System.nanoTime). */
    void run(long deadline) throws IOException {
        latenciesNanos.clear();
        while (System.nanoTime() < deadline) {
            long asked = System.nanoTime();
            request(true);
            readUpdate();
            latenciesNanos.add(System.nanoTime() - asked);
        }
    }

    /** Bytes received from the display so far. */
    long received() {
        return bytes;
    }

    void key(int keysym, boolean down) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8).put((byte) 4).put((byte) (down ? 1 : 0)).putShort((short) 0).putInt(keysym);
        transport.write(b.array());
    }

    private void request(boolean incremental) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(10).put((byte) 3).put((byte) (incremental ? 1 : 0))
                .putShort((short) 0).putShort((short) 0).putShort((short) width).putShort((short) height);
        transport.write(b.array());
    }

    private void readUpdate() throws IOException {
        while (true) {
            int type = in.readUnsignedByte();
            switch (type) {
                case 0 -> {
                    in.readUnsignedByte();
                    int rectangles = in.readUnsignedShort();
                    for (int i = 0; i < rectangles; i++) {
                        skipRectangle();
                    }
                    return;
                }
                case 2 -> { }
                case 3 -> {
                    in.readNBytes(3);
                    in.skipNBytes(Math.abs((long) in.readInt()));
                }
                default -> throw new IOException("unexpected server message " + type);
            }
        }
    }

    private void skipRectangle() throws IOException {
        in.readUnsignedShort();
        in.readUnsignedShort();
        int w = in.readUnsignedShort();
        int h = in.readUnsignedShort();
        int encoding = in.readInt();
        switch (encoding) {
            case RAW -> in.skipNBytes((long) w * h * 4);
            case ZRLE -> in.skipNBytes(in.readInt() & 0xffffffffL);
            case DESKTOP_SIZE -> {
                width = w;
                height = h;
            }
            default -> throw new IOException("unexpected encoding " + encoding);
        }
    }

    private static final class CountingStream extends java.io.FilterInputStream {
        private final RfbBenchClient owner;

        CountingStream(java.io.InputStream in, RfbBenchClient owner) {
            super(in);
            this.owner = owner;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                owner.bytes++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                owner.bytes += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(n);
            owner.bytes += skipped;
            return skipped;
        }
    }
}
