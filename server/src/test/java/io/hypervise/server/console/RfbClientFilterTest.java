package io.hypervise.server.console;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The client-to-server RFB stream as noVNC sends it, cut and filtered. */
class RfbClientFilterTest {

    private static final byte[] VERSION = "RFB 003.008\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NONE = {1};
    private static final byte[] EXCLUSIVE = {0};
    /** SetPixelFormat: 32 bpp, depth 24, little-endian true colour, shifts 16/8/0. */
    private static final byte[] SET_PIXEL_FORMAT = hex("00000000" + "20180001" + "00ff00ff00ff" + "100800" + "000000");
    /** SetEncodings: raw (0), copyrect (1), DesktopSize (-223). */
    private static final byte[] SET_ENCODINGS = hex("02" + "00" + "0003" + "00000000" + "00000001" + "ffffff21");
    private static final byte[] UPDATE_REQUEST = hex("03" + "01" + "0000" + "0000" + "0320" + "0258");
    /** KeyEvent: 'a' down. */
    private static final byte[] KEY_DOWN = hex("04" + "01" + "0000" + "00000061");
    private static final byte[] POINTER = hex("05" + "01" + "0010" + "0020");
    private static final byte[] CUT_TEXT = hex("06" + "000000" + "00000003" + "616263");
    /** QEMU extended key event: 'a' (keysym 0x61, XT scancode 0x1e) down. */
    private static final byte[] QEMU_KEY = hex("ff" + "00" + "0001" + "00000061" + "0000001e");
    private static final byte[] QEMU_AUDIO_ENABLE = hex("ff" + "01" + "0000");

    private static final byte[] HANDSHAKE = concat(VERSION, NONE, EXCLUSIVE);
    private static final byte[] HANDSHAKE_SHARED = concat(VERSION, NONE, new byte[] {1});

    @Test
    void theHandshakePassesWithTheSharedFlagForced() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(false);
        assertThat(filter.accept(HANDSHAKE)).isEqualTo(HANDSHAKE_SHARED);
    }

    @Test
    void aFullViewerSendsEverything() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(false);
        byte[] messages = concat(SET_PIXEL_FORMAT, SET_ENCODINGS, UPDATE_REQUEST, KEY_DOWN, POINTER, CUT_TEXT, QEMU_KEY,
                QEMU_AUDIO_ENABLE);
        assertThat(filter.accept(concat(HANDSHAKE, messages))).isEqualTo(concat(HANDSHAKE_SHARED, messages));
        assertThat(filter.messagesForwarded()).isEqualTo(8);
        assertThat(filter.inputsDropped()).isZero();
    }

    @Test
    void aViewOnlyViewerSendsNoInputButStaysWellFormed() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(true);
        byte[] sent = filter.accept(concat(HANDSHAKE, SET_PIXEL_FORMAT, KEY_DOWN, SET_ENCODINGS, POINTER, UPDATE_REQUEST,
                CUT_TEXT, QEMU_KEY, QEMU_AUDIO_ENABLE, UPDATE_REQUEST));
        assertThat(sent).isEqualTo(concat(HANDSHAKE_SHARED, SET_PIXEL_FORMAT, SET_ENCODINGS, UPDATE_REQUEST,
                QEMU_AUDIO_ENABLE, UPDATE_REQUEST));
        assertThat(filter.inputsDropped()).isEqualTo(4);
    }

    @Test
    void messagesSplitAcrossFramesAreReassembledByteByByte() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(true);
        byte[] stream = concat(HANDSHAKE, SET_ENCODINGS, KEY_DOWN, CUT_TEXT, UPDATE_REQUEST, QEMU_KEY, QEMU_AUDIO_ENABLE);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte b : stream) {
            out.writeBytes(filter.accept(new byte[] {b}));
        }
        assertThat(out.toByteArray()).isEqualTo(concat(HANDSHAKE_SHARED, SET_ENCODINGS, UPDATE_REQUEST, QEMU_AUDIO_ENABLE));
    }

    @Test
    void nothingIsForwardedUntilAMessageIsWhole() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(false);
        filter.accept(HANDSHAKE);
        assertThat(filter.accept(Arrays.copyOf(SET_PIXEL_FORMAT, 19))).isEmpty();
        assertThat(filter.accept(new byte[] {SET_PIXEL_FORMAT[19], UPDATE_REQUEST[0]})).isEqualTo(SET_PIXEL_FORMAT);
        assertThat(filter.accept(Arrays.copyOfRange(UPDATE_REQUEST, 1, 10))).isEqualTo(UPDATE_REQUEST);
    }

    @Test
    void theExtendedClipboardsNegativeLengthIsFramed() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(true);
        filter.accept(HANDSHAKE);
        byte[] extended = concat(hex("06000000"), ByteBuffer.allocate(4).putInt(-4).array(), hex("10000001"));
        assertThat(filter.accept(concat(extended, UPDATE_REQUEST))).isEqualTo(UPDATE_REQUEST);
    }

    @Test
    void anotherProtocolVersionIsRefused() {
        RfbClientFilter filter = new RfbClientFilter(false);
        assertThatThrownBy(() -> filter.accept("RFB 003.003\n".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(RfbProtocolException.class).hasMessageContaining("RFB 3.8");
    }

    @Test
    void vncAuthenticationIsNotAChoice() {
        RfbClientFilter filter = new RfbClientFilter(false);
        assertThatThrownBy(() -> filter.accept(concat(VERSION, new byte[] {2})))
                .isInstanceOf(RfbProtocolException.class).hasMessageContaining("security type 2");
    }

    @Test
    void anUnknownMessageTypeEndsTheSession() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(false);
        filter.accept(HANDSHAKE);
        assertThatThrownBy(() -> filter.accept(new byte[] {7, 0, 0, 0}))
                .isInstanceOf(RfbProtocolException.class).hasMessage("unknown client message type 7");
    }

    @Test
    void oversizedMessagesAreRefusedBeforeTheyAreBuffered() throws Exception {
        RfbClientFilter filter = new RfbClientFilter(false);
        filter.accept(HANDSHAKE);
        assertThatThrownBy(() -> filter.accept(hex("06000000" + "7fffffff")))
                .isInstanceOf(RfbProtocolException.class).hasMessageContaining("ClientCutText of 2147483647 bytes");
        RfbClientFilter other = new RfbClientFilter(false);
        other.accept(HANDSHAKE);
        assertThatThrownBy(() -> other.accept(hex("0200" + "ffff")))
                .isInstanceOf(RfbProtocolException.class).hasMessageContaining("65535 encodings");
    }

    private static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
