package io.hypervise.engine.template;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.SingleXZInputStream;

/**
 * Unpacks the ELF kernel inside a bzImage so that QEMU can start it through its PVH entry point.
 * Under TCG the bzImage's own decompressor (xz in Debian) takes about 2.5 s of every boot; QEMU
 * loads an ELF with a PVH note directly, so the guest reaches /init in half the time.
 * Boot protocol: Documentation/arch/x86/boot.rst (setup header, payload_offset/payload_length);
 * PVH: the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY that QEMU's x86 loader looks for.
 */
final class PvhKernel {

    private static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;

    private PvhKernel() {}

    /**
     * Writes the uncompressed kernel to {@code target}.
     *
     * @return why it could not, or null when {@code target} now holds a PVH-bootable kernel
     */
    static String extract(Path bzImage, Path target) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(0x250).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel in = FileChannel.open(bzImage)) {
            in.read(header, 0);
        }
        if (header.getInt(0x202) != 0x53726448 /* "HdrS" */ || Short.toUnsignedInt(header.getShort(0x206)) < 0x208) {
            return "not a bzImage with boot protocol 2.08 or later";
        }
        int setupSectors = Byte.toUnsignedInt(header.get(0x1F1));
        long payloadStart = (long) ((setupSectors == 0 ? 4 : setupSectors) + 1) * 512
                + Integer.toUnsignedLong(header.getInt(0x248));
        try (InputStream file = new BufferedInputStream(Files.newInputStream(bzImage))) {
            file.skipNBytes(payloadStart);
            file.mark(8);
            byte[] magic = file.readNBytes(6);
            file.reset();
            try (InputStream payload = decompressor(magic, file)) {
                if (payload == null) {
                    return "its payload is compressed with a method this builder does not read";
                }
                try (OutputStream out = Files.newOutputStream(target)) {
                    payload.transferTo(out);
                }
            }
        }
        String problem = pvhProblem(target);
        if (problem != null) {
            Files.delete(target);
        }
        return problem;
    }

    private static InputStream decompressor(byte[] magic, InputStream in) throws IOException {
        if (magic.length == 6 && magic[0] == (byte) 0xFD && magic[1] == '7' && magic[2] == 'z' && magic[3] == 'X'
                && magic[4] == 'Z' && magic[5] == 0) {
            // Single stream: the payload ends with the uncompressed size, which is not xz data.
            return new SingleXZInputStream(in);
        }
        if (magic.length >= 2 && magic[0] == (byte) 0x1F && magic[1] == (byte) 0x8B) {
            return new GZIPInputStream(in);
        }
        return null;
    }

    private static String pvhProblem(Path kernel) throws IOException {
        try (FileChannel channel = FileChannel.open(kernel, StandardOpenOption.READ)) {
            ElfFile elf;
            try {
                elf = ElfFile.parse(kernel.toString(), channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()));
            } catch (IOException notElf) {
                return "its payload is not an ELF kernel (" + notElf.getMessage() + ")";
            }
            boolean pvh = elf.notes().stream()
                    .anyMatch(n -> n.owner().equals("Xen") && n.type() == XEN_ELFNOTE_PHYS32_ENTRY);
            return pvh ? null : "the kernel has no PVH entry point (CONFIG_PVH is off)";
        }
    }
}
