package io.hypervise.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The ELF reader on modules as amd64 (64-bit) and i386 (32-bit) kernels ship them, built here byte by byte. */
class ElfFileTest {

    private static final byte[] NAMES = "\0.shstrtab\0.modinfo\0".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] MODINFO = "license=GPL\0depends=virtio,virtio_ring\0".getBytes(StandardCharsets.US_ASCII);

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void readsTheModinfoSectionOfA64BitAndA32BitModule(boolean is64) throws IOException {
        ElfFile elf = ElfFile.parse("virtio_net.ko", module(is64));

        assertThat(elf.sections()).extracting(ElfFile.Section::name).containsExactly("", ".shstrtab", ".modinfo");
        assertThat(elf.section(".modinfo")).hasValueSatisfying(m -> assertThat(m).isEqualTo(MODINFO));
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void refusesASectionTableBeyondTheFile(boolean is64) {
        ByteBuffer truncated = module(is64);
        truncated.limit(truncated.limit() - 8);

        assertThatThrownBy(() -> ElfFile.parse("cut.ko", truncated)).hasMessage("cut.ko: section header table is damaged");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3})
    void refusesAnUnknownElfClass(int elfClass) {
        ByteBuffer odd = module(true);
        odd.put(4, (byte) elfClass);

        assertThatThrownBy(() -> ElfFile.parse("odd.ko", odd))
                .hasMessage("odd.ko is not a 32-bit or 64-bit little-endian ELF file");
    }

    /** An ELF relocatable file with a null section, .shstrtab and .modinfo, as the System V ABI lays it out. */
    private static ByteBuffer module(boolean is64) {
        int headerSize = is64 ? 64 : 52;
        int entrySize = is64 ? 64 : 40;
        int namesAt = headerSize;
        int modinfoAt = namesAt + NAMES.length;
        int tableAt = (modinfoAt + MODINFO.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(tableAt + 3 * entrySize).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464C457F).put(4, (byte) (is64 ? 2 : 1)).put(5, (byte) 1).put(6, (byte) 1);
        b.putShort(0x10, (short) 1); // ET_REL
        if (is64) {
            b.putShort(0x12, (short) 62).putLong(0x28, tableAt).putShort(0x34, (short) headerSize);
            b.putShort(0x3A, (short) entrySize).putShort(0x3C, (short) 3).putShort(0x3E, (short) 1);
        } else {
            b.putShort(0x12, (short) 3).putInt(0x20, tableAt).putShort(0x28, (short) headerSize);
            b.putShort(0x2E, (short) entrySize).putShort(0x30, (short) 3).putShort(0x32, (short) 1);
        }
        b.put(namesAt, NAMES).put(modinfoAt, MODINFO);
        section(b, is64, tableAt + entrySize, 1, 3, namesAt, NAMES.length); // SHT_STRTAB
        section(b, is64, tableAt + 2 * entrySize, 11, 1, modinfoAt, MODINFO.length); // SHT_PROGBITS
        return b;
    }

    private static void section(ByteBuffer b, boolean is64, int at, int name, int type, int offset, int size) {
        b.putInt(at, name).putInt(at + 4, type);
        if (is64) {
            b.putLong(at + 0x18, offset).putLong(at + 0x20, size);
        } else {
            b.putInt(at + 0x10, offset).putInt(at + 0x14, size);
        }
    }
}
