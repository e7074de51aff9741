package io.hypervise.engine.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a file is taken as in the library, by its magic bytes, and what is refused, with qemu-img's own images. */
class ImageInspectorTest {

    @TempDir
    Path dir;

    private final ImageInspector inspector = new ImageInspector(Path.of("qemu-img"));

    @Test
    void formatsAreToldApartByTheirMagicBytes() throws Exception {
        assertThat(ImageFormat.detect(qemuImg("a.qcow2", "qcow2"))).isEqualTo(ImageFormat.QCOW2);
        assertThat(ImageFormat.detect(qemuImg("a.vhdx", "vhdx"))).isEqualTo(ImageFormat.VHDX);
        assertThat(ImageFormat.detect(qemuImg("a.vhd", "vpc", "-o", "subformat=dynamic"))).isEqualTo(ImageFormat.VHD);
        assertThat(ImageFormat.detect(qemuImg("f.vhd", "vpc", "-o", "subformat=fixed"))).as("footer at the end only")
                .isEqualTo(ImageFormat.VHD);
        assertThat(ImageFormat.detect(qemuImg("a.img", "raw"))).isEqualTo(ImageFormat.RAW);
        assertThat(ImageFormat.detect(iso())).isEqualTo(ImageFormat.ISO);
        Path vmdk = qemuImg("a.vmdk", "vmdk");
        assertThatThrownBy(() -> ImageFormat.detect(vmdk)).isInstanceOf(MalformedImageException.class)
                .hasMessageContaining("VMDK image, which the library does not take");
    }

    @Test
    void sizesComeFromTheHeaders() throws Exception {
        assertThat(inspector.inspect(qemuImg("a.qcow2", "qcow2"), null).virtualBytes()).isEqualTo(8L << 20);
        assertThat(inspector.inspect(qemuImg("a.vhdx", "vhdx"), null).virtualBytes()).isEqualTo(8L << 20);
        ImageInspection vhd = inspector.inspect(qemuImg("a.vhd", "vpc", "-o", "subformat=dynamic,force_size=on"), null);
        assertThat(vhd.virtualBytes()).isEqualTo(8L << 20);
        assertThat(vhd.variant()).isEqualTo("dynamic");
    }

    @Test
    void aDeclarationTheBytesContradictIsRefused() throws Exception {
        Path qcow2 = qemuImg("a.qcow2", "qcow2");
        assertThatThrownBy(() -> inspector.inspect(qcow2, ImageFormat.RAW)).isInstanceOf(MalformedImageException.class)
                .hasMessage("is declared raw but starts with a qcow2 header, which would name files of its own to any tool"
                        + " that trusted it; declare its real format");
        Path raw = qemuImg("a.img", "raw");
        assertThatThrownBy(() -> inspector.inspect(raw, ImageFormat.QCOW2)).isInstanceOf(MalformedImageException.class)
                .hasMessageContaining("is declared qcow2 but has no qcow2 header");
        assertThat(inspector.inspect(iso(), ImageFormat.RAW).format()).as("an ISO is raw bytes").isEqualTo(ImageFormat.RAW);
    }

    @Test
    void imagesNamingOtherFilesAreRefused() throws Exception {
        Path backed = dir.resolve("backed.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw", backed.toString(), "1M");
        assertThatThrownBy(() -> inspector.inspect(backed, null)).isInstanceOf(MalformedImageException.class)
                .hasMessage("is a qcow2 image that names a backing file '/etc/shadow'; the library takes only self-contained images");
        Path external = dir.resolve("external.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=" + dir.resolve("data.raw"), external.toString(), "1M");
        assertThatThrownBy(() -> inspector.inspect(external, null)).isInstanceOf(MalformedImageException.class)
                .hasMessageContaining("keeps its data in an external data file");
    }

    private Path iso() throws IOException {
        Path iso = dir.resolve("cd.iso");
        byte[] bytes = new byte[64 * 1024];
        ByteBuffer.wrap(bytes).put((int) ImageFormat.ISO_MAGIC_OFFSET, "CD001".getBytes(StandardCharsets.US_ASCII));
        return Files.write(iso, bytes);
    }

    private Path qemuImg(String name, String format, String... options) throws Exception {
        Path file = dir.resolve(name);
        Files.deleteIfExists(file);
        List<String> command = new java.util.ArrayList<>(List.of("qemu-img", "create", "-q", "-f", format));
        command.addAll(List.of(options));
        command.addAll(List.of(file.toString(), "8M"));
        run(command.toArray(String[]::new));
        return file;
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
    }
}
