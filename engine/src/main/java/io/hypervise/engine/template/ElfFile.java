package io.hypervise.engine.template;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Just enough of a little-endian ELF reader, 64-bit (amd64) or 32-bit (i386), to get a kernel
 * module's {@code .modinfo} and a kernel's notes, without depending on binutils or kmod on the host.
 * See the System V ABI, "Object Files" (ELF header, section header table, note sections); the two
 * classes differ only in the width and position of the fields read here.
 */
final class ElfFile {

    private static final int SECTION_TYPE_NOTE = 7;

    record Section(String name, int type, long offset, long size) {}

    record Note(String owner, int type, byte[] description) {}

    private static final byte CLASS_32 = 1;
    private static final byte CLASS_64 = 2;

    private final String source;
    private final ByteBuffer bytes;
    private final boolean is64;
    private final List<Section> sections;

    private ElfFile(String source, ByteBuffer bytes, boolean is64) throws IOException {
        this.source = source;
        this.bytes = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        this.is64 = is64;
        this.sections = readSections();
    }

    /** @param source names the file in error messages */
    static ElfFile parse(String source, ByteBuffer bytes) throws IOException {
        ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.limit() < 52 || b.getInt(0) != 0x464C457F) {
            throw new IOException(source + " is not an ELF file");
        }
        byte elfClass = b.get(4);
        if ((elfClass != CLASS_32 && elfClass != CLASS_64) || b.get(5) != 1 || (elfClass == CLASS_64 && b.limit() < 64)) {
            throw new IOException(source + " is not a 32-bit or 64-bit little-endian ELF file");
        }
        return new ElfFile(source, b, elfClass == CLASS_64);
    }

    List<Section> sections() {
        return sections;
    }

    Optional<byte[]> section(String name) throws IOException {
        for (Section s : sections) {
            if (s.name().equals(name)) {
                return Optional.of(slice(s.offset(), s.size()));
            }
        }
        return Optional.empty();
    }

    /** All notes of all note sections, in file order. */
    List<Note> notes() throws IOException {
        List<Note> notes = new ArrayList<>();
        for (Section s : sections) {
            if (s.type() != SECTION_TYPE_NOTE) {
                continue;
            }
            ByteBuffer n = ByteBuffer.wrap(slice(s.offset(), s.size())).order(ByteOrder.LITTLE_ENDIAN);
            while (n.remaining() >= 12) {
                int nameSize = n.getInt();
                int descriptionSize = n.getInt();
                int type = n.getInt();
                if (nameSize < 0 || descriptionSize < 0 || align4(nameSize) + (long) align4(descriptionSize) > n.remaining()) {
                    throw new IOException(source + ": note in section " + s.name() + " overruns it");
                }
                byte[] name = new byte[align4(nameSize)];
                n.get(name);
                byte[] description = new byte[descriptionSize];
                n.get(description);
                n.position(n.position() + align4(descriptionSize) - descriptionSize);
                int nameLength = nameSize > 0 && name[nameSize - 1] == 0 ? nameSize - 1 : nameSize;
                notes.add(new Note(new String(name, 0, nameLength, StandardCharsets.US_ASCII), type, description));
            }
        }
        return notes;
    }

    private List<Section> readSections() throws IOException {
        // e_shoff, e_shentsize, e_shnum, e_shstrndx; then per section sh_offset and sh_size.
        long tableOffset = is64 ? bytes.getLong(0x28) : Integer.toUnsignedLong(bytes.getInt(0x20));
        int fields = is64 ? 0x3A : 0x2E;
        int entrySize = Short.toUnsignedInt(bytes.getShort(fields));
        int count = Short.toUnsignedInt(bytes.getShort(fields + 2));
        int namesIndex = Short.toUnsignedInt(bytes.getShort(fields + 4));
        if (count == 0) {
            return List.of();
        }
        if (entrySize < (is64 ? 64 : 40) || namesIndex >= count || tableOffset + (long) entrySize * count > bytes.limit()) {
            throw new IOException(source + ": section header table is damaged");
        }
        long namesOffset = sectionOffset(Math.toIntExact(tableOffset + (long) entrySize * namesIndex));
        List<Section> result = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int at = Math.toIntExact(tableOffset + (long) entrySize * i);
            String name = string(namesOffset + Integer.toUnsignedLong(bytes.getInt(at)));
            long size = is64 ? bytes.getLong(at + 0x20) : Integer.toUnsignedLong(bytes.getInt(at + 0x14));
            result.add(new Section(name, bytes.getInt(at + 4), sectionOffset(at), size));
        }
        return List.copyOf(result);
    }

    private long sectionOffset(int header) {
        return is64 ? bytes.getLong(header + 0x18) : Integer.toUnsignedLong(bytes.getInt(header + 0x10));
    }

    private String string(long offset) throws IOException {
        int start = checkedOffset(offset);
        int end = start;
        while (end < bytes.limit() && bytes.get(end) != 0) {
            end++;
        }
        byte[] s = new byte[end - start];
        bytes.get(start, s);
        return new String(s, StandardCharsets.US_ASCII);
    }

    private byte[] slice(long offset, long size) throws IOException {
        if (offset < 0 || size < 0 || offset + size > bytes.limit()) {
            throw new IOException(source + ": section at " + offset + " (" + size + " bytes) lies outside the file");
        }
        byte[] s = new byte[(int) size];
        bytes.get((int) offset, s);
        return s;
    }

    private int checkedOffset(long offset) throws IOException {
        if (offset < 0 || offset >= bytes.limit()) {
            throw new IOException(source + ": string offset " + offset + " lies outside the file");
        }
        return (int) offset;
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }
}
