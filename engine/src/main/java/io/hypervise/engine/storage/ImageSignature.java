package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Optional;

/**
 * The first bytes by which image formats that can name other files (backing files, parents, extents)
 * announce themselves. A file attached as raw must start with none of them: QEMU is told it is raw,
 * but any tool that probes (qemu-img without -f, an import that guesses) would follow what it names.
 */
public enum ImageSignature {
    QCOW("qcow or qcow2", "QFI\u00fb"),
    QED("QED", "QED\0"),
    VMDK("VMDK", "KDMV"),
    VMDK_DESCRIPTOR("VMDK descriptor", "# Disk DescriptorFile"),
    VHDX("VHDX", "vhdxfile"),
    /** A dynamic or differencing VHD starts with a copy of its footer; a fixed one has it only at the end. */
    VHD("VHD", "conectix");

    private final String format;
    private final byte[] magic;

    ImageSignature(String format, String magic) {
        this.format = format;
        this.magic = magic.getBytes(StandardCharsets.ISO_8859_1);
    }

    public String format() {
        return format;
    }

    /** Whether {@code head} (a file's first bytes, from index 0) starts with this signature. */
    public boolean startsWith(ByteBuffer head) {
        return head.limit() >= magic.length && head.slice(0, magic.length).equals(ByteBuffer.wrap(magic));
    }

    /** The signature the file starts with, if any. */
    public static Optional<ImageSignature> of(Path file) throws IOException {
        ByteBuffer head;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            head = ImageBytes.read(channel, 0, 64);
        }
        return Arrays.stream(values()).filter(s -> s.startsWith(head)).findFirst();
    }
}
