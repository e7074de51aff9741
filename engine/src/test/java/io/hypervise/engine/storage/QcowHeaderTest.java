package io.hypervise.engine.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The qcow2 header reader on headers built by hand, as a hostile image might carry them. */
class QcowHeaderTest {

    private static final int CLUSTER_BITS = 16;

    /** A qcow2 first cluster, built field by field (offsets from the qcow2 specification). */
    private static final class Header {
        final ByteBuffer b = ByteBuffer.allocate(1 << CLUSTER_BITS);
        int extensions;

        Header(int version) {
            b.putInt(0, QcowHeader.MAGIC).putInt(4, version).putInt(20, CLUSTER_BITS).putLong(24, 1 << 20);
            extensions = version == 3 ? QcowHeader.V3_HEADER_LENGTH : QcowHeader.V2_HEADER_LENGTH;
            if (version == 3) {
                b.putInt(96, 4).putInt(100, QcowHeader.V3_HEADER_LENGTH);
            }
        }

        Header backing(long offset, int size) {
            b.putLong(8, offset).putInt(16, size);
            return this;
        }

        Header backingName(int offset, String name) {
            byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            b.put(offset, bytes);
            return backing(offset, bytes.length);
        }

        Header incompatible(long bits) {
            b.putLong(72, bits);
            return this;
        }

        Header headerLength(int length) {
            b.putInt(100, length);
            return this;
        }

        Header extension(int type, byte[] data) {
            b.putInt(extensions, type).putInt(extensions + 4, data.length).put(extensions + 8, data);
            extensions += 8 + ((data.length + 7) & ~7);
            return this;
        }

        Header clusterBits(int bits) {
            b.putInt(20, bits);
            return this;
        }

        ByteBuffer truncatedTo(int length) {
            return b.slice(0, length);
        }

        QcowHeader parse() throws MalformedImageException {
            return QcowHeader.parse(b);
        }
    }

    @Test
    void selfContainedImagesOfVersionTwoAndThreeNameNoOtherFile() throws Exception {
        QcowHeader v2 = new Header(2).parse();
        QcowHeader v3 = new Header(3).extension(0x6803f857, new byte[48]).parse();

        assertThat(v2.version()).isEqualTo(2);
        assertThat(v3.version()).isEqualTo(3);
        assertThat(v2.externalFiles()).isEmpty();
        assertThat(v3.externalFiles()).isEmpty();
    }

    @Test
    void aBackingFileIsNamedInBothVersions() throws Exception {
        assertThat(new Header(2).backingName(512, "/etc/shadow").parse().externalFiles())
                .hasValue("names a backing file '/etc/shadow'");
        QcowHeader v3 = new Header(3).extension(0xe2792aca, "raw".getBytes(StandardCharsets.US_ASCII))
                .backingName(528, "/var/lib/secret.img").parse();
        assertThat(v3.backingFile()).isEqualTo("/var/lib/secret.img");
        assertThat(v3.externalFiles()).hasValueSatisfying(why -> assertThat(why).contains("backing file"));
    }

    @Test
    void aBackingFileAtABogusOffsetOrOfAHugeSizeIsStillRefused() throws Exception {
        assertThat(new Header(3).backing(0xffff_ffff_ffff_fff0L, 11).parse().externalFiles())
                .hasValueSatisfying(why -> assertThat(why).contains("backing file '(11 bytes at offset 18446744073709551600)'"));
        assertThat(new Header(3).backing(512, 0xffff_ffff).parse().externalFiles())
                .hasValueSatisfying(why -> assertThat(why).contains("backing file '(4294967295 bytes at offset 512)'"));
        assertThat(new Header(2).backing(1L << 40, 0).parse().externalFiles()).isPresent();
        assertThat(new Header(2).backing(0, 1).parse().externalFiles()).isPresent();
    }

    @Test
    void aBackingFileNameCannotCarryControlCharactersIntoAMessage() throws Exception {
        assertThat(new Header(2).backingName(512, "/tmp/x\n\u001b[31mred").parse().backingFile()).isEqualTo("/tmp/x??[31mred");
    }

    @Test
    void anExternalDataFileIsRefusedWhetherTheBitOrTheExtensionSaysSo() throws Exception {
        byte[] name = "/dev/sda".getBytes(StandardCharsets.US_ASCII);
        assertThat(new Header(3).incompatible(1 << 2).parse().externalFiles())
                .hasValue("keeps its data in an external data file '(unnamed)'");
        assertThat(new Header(3).incompatible(1 << 2).extension(QcowHeader.EXTENSION_DATA_FILE, name).parse().dataFile())
                .isEqualTo("/dev/sda");
        assertThat(new Header(3).extension(QcowHeader.EXTENSION_DATA_FILE, name).parse().externalFiles())
                .hasValue("keeps its data in an external data file '/dev/sda'");
        assertThat(new Header(2).extension(QcowHeader.EXTENSION_DATA_FILE, name).backingName(1024, "/b").parse().externalFiles())
                .hasValue("names a backing file '/b' and keeps its data in an external data file '/dev/sda'");
    }

    @Test
    void incompatibleFeaturesThatAreNotKnownAreRefused() throws Exception {
        assertThat(new Header(3).incompatible(1 | 1 << 1 | 1 << 3 | 1 << 4).parse().externalFiles()).isEmpty();
        assertThat(new Header(3).incompatible(1L << 63 | 1 << 5).parse().externalFiles())
                .hasValue("sets incompatible features unknown to Hypervise (0x8000000000000020)");
    }

    @Test
    void aTruncatedHeaderIsMalformed() {
        assertThatThrownBy(() -> QcowHeader.parse(new Header(2).truncatedTo(71)))
                .isInstanceOf(MalformedImageException.class).hasMessageContaining("truncated qcow2 header (71 bytes)");
        assertThatThrownBy(() -> QcowHeader.parse(new Header(3).truncatedTo(100)))
                .isInstanceOf(MalformedImageException.class).hasMessageContaining("truncated qcow2 version 3 header");
        assertThatThrownBy(() -> QcowHeader.parse(new Header(3).truncatedTo(108)))
                .isInstanceOf(MalformedImageException.class).hasMessageContaining("run past");
        assertThatThrownBy(() -> QcowHeader.parse(ByteBuffer.allocate(0)))
                .isInstanceOf(MalformedImageException.class).hasMessageContaining("is not a qcow2 image");
    }

    @Test
    void anotherMagicOrVersionIsRefused() {
        Header raw = new Header(3);
        raw.b.putInt(0, 0x7f454c46);
        assertThatThrownBy(raw::parse).hasMessage("is not a qcow2 image (it does not start with QFI\\xfb)");
        assertThatThrownBy(() -> new Header(1).parse()).hasMessageContaining("qcow2 version 1;");
        assertThatThrownBy(() -> new Header(4).parse()).hasMessageContaining("qcow2 version 4;");
        assertThatThrownBy(() -> new Header(-1).parse()).hasMessageContaining("qcow2 version 4294967295;");
    }

    @Test
    void bogusLengthsAndSizesAreMalformed() {
        assertThatThrownBy(() -> new Header(3).headerLength(100).parse()).hasMessageContaining("header length (100)");
        assertThatThrownBy(() -> new Header(3).headerLength(108).parse()).hasMessageContaining("header length (108)");
        assertThatThrownBy(() -> new Header(3).headerLength(-8).parse()).hasMessageContaining("header length (4294967288)");
        assertThatThrownBy(() -> new Header(3).clusterBits(8).parse()).hasMessageContaining("cluster size");
        assertThatThrownBy(() -> new Header(3).clusterBits(40).parse()).hasMessageContaining("cluster size");
    }

    @Test
    void anExtensionLongerThanTheFirstClusterIsMalformed() {
        Header huge = new Header(3);
        huge.b.putInt(QcowHeader.V3_HEADER_LENGTH, 0x44415441).putInt(QcowHeader.V3_HEADER_LENGTH + 4, -1);
        assertThatThrownBy(huge::parse).isInstanceOf(MalformedImageException.class)
                .hasMessageContaining("(0x44415441) of 4294967295 bytes that runs past the first cluster");
    }
}
