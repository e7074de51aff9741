package io.hypervise.server.console;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads what a viewer sends towards the VM's display (RFB 3.8, RFC 6143) and decides, message by
 * message, what reaches QEMU. It frames the whole client-to-server stream, so it can:
 * <ul>
 *   <li>force ClientInit's shared flag to 1, so one viewer never disconnects the others;</li>
 *   <li>for a view-only viewer, drop every message that would reach the guest as input (KeyEvent,
 *       PointerEvent, ClientCutText, QEMU's extended key event, SetDesktopSize) while keeping the
 *       stream well-formed: whole messages are dropped, never bytes;</li>
 *   <li>refuse what it cannot frame (an unknown message type, a security type other than None, a
 *       message over {@link #MAX_MESSAGE}): the session ends rather than let QEMU misread a stream.</li>
 * </ul>
 * WebSocket frames need not align with RFB messages: an incomplete message is kept until the rest
 * arrives (never more than {@link #MAX_MESSAGE} bytes). Not thread-safe; one per session.
 */
public final class RfbClientFilter {

    /** The largest client message accepted: ClientCutText of 256 KiB of text, or 1024 encodings. */
    public static final int MAX_MESSAGE = 256 * 1024 + 8;

    static final byte[] VERSION_3_8 = "RFB 003.008\n".getBytes(StandardCharsets.US_ASCII);
    static final int SECURITY_NONE = 1;
    static final int MAX_ENCODINGS = 1024;

    // Client-to-server message types (RFC 6143 section 7.5, and the registered extensions).
    static final int SET_PIXEL_FORMAT = 0;
    static final int SET_ENCODINGS = 2;
    static final int FRAMEBUFFER_UPDATE_REQUEST = 3;
    static final int KEY_EVENT = 4;
    static final int POINTER_EVENT = 5;
    static final int CLIENT_CUT_TEXT = 6;
    static final int ENABLE_CONTINUOUS_UPDATES = 150;
    static final int CLIENT_FENCE = 248;
    static final int SET_DESKTOP_SIZE = 251;
    static final int QEMU = 255;
    static final int QEMU_EXTENDED_KEY_EVENT = 0;
    static final int QEMU_AUDIO = 1;

    private enum Phase { VERSION, SECURITY, CLIENT_INIT, MESSAGES }

    private final boolean viewOnly;
    private Phase phase = Phase.VERSION;
    private byte[] pending = new byte[0];
    private long inputsDropped;
    private long messagesForwarded;

    public RfbClientFilter(boolean viewOnly) {
        this.viewOnly = viewOnly;
    }

    /**
     * Takes the next bytes the viewer sent and returns those to pass to QEMU (possibly none). Bytes of
     * a message not yet complete are kept for the next call.
     */
    public byte[] accept(byte[] bytes) throws RfbProtocolException {
        byte[] in = pending.length == 0 ? bytes : concat(pending, bytes);
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length);
        int at = 0;
        while (at < in.length) {
            int length = completeLength(in, at);
            if (length < 0) {
                break; // the rest has not arrived yet
            }
            forward(in, at, length, out);
            at += length;
        }
        int rest = in.length - at;
        if (rest > MAX_MESSAGE) {
            throw new RfbProtocolException("a message of the viewer is larger than " + MAX_MESSAGE + " bytes");
        }
        pending = Arrays.copyOfRange(in, at, in.length);
        return out.toByteArray();
    }

    /** Input messages a view-only viewer sent that never reached the guest. */
    public long inputsDropped() {
        return inputsDropped;
    }

    public long messagesForwarded() {
        return messagesForwarded;
    }

    /**
     * The length of the message that starts at {@code at} in this phase, or -1 if more bytes are needed
     * to know it or to have all of it.
     */
    private int completeLength(byte[] in, int at) throws RfbProtocolException {
        int available = in.length - at;
        int length = switch (phase) {
            case VERSION -> VERSION_3_8.length;
            case SECURITY, CLIENT_INIT -> 1;
            case MESSAGES -> messageLength(in, at, available);
        };
        return length < 0 || available < length ? -1 : length;
    }

    private static int messageLength(byte[] in, int at, int available) throws RfbProtocolException {
        int type = in[at] & 0xff;
        return switch (type) {
            case SET_PIXEL_FORMAT -> 20;
            case SET_ENCODINGS -> {
                if (available < 4) {
                    yield -1;
                }
                int count = u16(in, at + 2);
                if (count > MAX_ENCODINGS) {
                    throw new RfbProtocolException("SetEncodings lists " + count + " encodings; at most " + MAX_ENCODINGS);
                }
                yield 4 + 4 * count;
            }
            case FRAMEBUFFER_UPDATE_REQUEST -> 10;
            case KEY_EVENT -> 8;
            case POINTER_EVENT -> 6;
            case CLIENT_CUT_TEXT -> {
                if (available < 8) {
                    yield -1;
                }
                // A negative length is the extended clipboard's (its payload is -length bytes).
                long text = Math.abs((long) s32(in, at + 4));
                if (text > MAX_MESSAGE - 8) {
                    throw new RfbProtocolException("ClientCutText of " + text + " bytes; at most " + (MAX_MESSAGE - 8));
                }
                yield 8 + (int) text;
            }
            case ENABLE_CONTINUOUS_UPDATES -> 10;
            case CLIENT_FENCE -> {
                if (available < 9) {
                    yield -1;
                }
                int payload = in[at + 8] & 0xff;
                if (payload > 64) {
                    throw new RfbProtocolException("ClientFence with " + payload + " bytes of payload; at most 64");
                }
                yield 9 + payload;
            }
            case SET_DESKTOP_SIZE -> {
                if (available < 8) {
                    yield -1;
                }
                yield 8 + 16 * (in[at + 6] & 0xff);
            }
            case QEMU -> {
                if (available < 2) {
                    yield -1;
                }
                yield switch (in[at + 1] & 0xff) {
                    case QEMU_EXTENDED_KEY_EVENT -> 12;
                    case QEMU_AUDIO -> {
                        if (available < 4) {
                            yield -1;
                        }
                        int operation = u16(in, at + 2);
                        yield switch (operation) {
                            case 0, 1 -> 4; // enable, disable
                            case 2 -> 10; // set format: u8 format, u8 channels, u32 frequency
                            default -> throw new RfbProtocolException("unknown QEMU audio operation " + operation);
                        };
                    }
                    default -> throw new RfbProtocolException("unknown QEMU client message " + (in[at + 1] & 0xff));
                };
            }
            default -> throw new RfbProtocolException("unknown client message type " + type);
        };
    }

    private void forward(byte[] in, int at, int length, ByteArrayOutputStream out) throws RfbProtocolException {
        switch (phase) {
            case VERSION -> {
                if (!Arrays.equals(in, at, at + length, VERSION_3_8, 0, VERSION_3_8.length)) {
                    throw new RfbProtocolException("the viewer must speak RFB 3.8, not '"
                            + new String(in, at, length, StandardCharsets.US_ASCII).strip() + "'");
                }
                out.write(in, at, length);
                phase = Phase.SECURITY;
            }
            case SECURITY -> {
                int chosen = in[at] & 0xff;
                if (chosen != SECURITY_NONE) {
                    // The server authenticated the viewer; the display itself asks for nothing more.
                    throw new RfbProtocolException("the viewer chose security type " + chosen + "; only None (1) is offered");
                }
                out.write(chosen);
                phase = Phase.CLIENT_INIT;
            }
            case CLIENT_INIT -> {
                out.write(1); // shared: never make QEMU disconnect the other viewers
                phase = Phase.MESSAGES;
            }
            case MESSAGES -> {
                if (viewOnly && isInput(in, at)) {
                    inputsDropped++;
                    return;
                }
                out.write(in, at, length);
                messagesForwarded++;
            }
        }
    }

    /** Whether the message would reach the guest, or change what every viewer sees. */
    private static boolean isInput(byte[] in, int at) {
        int type = in[at] & 0xff;
        return type == KEY_EVENT || type == POINTER_EVENT || type == CLIENT_CUT_TEXT || type == SET_DESKTOP_SIZE
                || (type == QEMU && (in[at + 1] & 0xff) == QEMU_EXTENDED_KEY_EVENT);
    }

    private static int u16(byte[] in, int at) {
        return ((in[at] & 0xff) << 8) | (in[at + 1] & 0xff);
    }

    private static int s32(byte[] in, int at) {
        return ((in[at] & 0xff) << 24) | ((in[at + 1] & 0xff) << 16) | ((in[at + 2] & 0xff) << 8) | (in[at + 3] & 0xff);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] both = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }
}
