package io.hypervise.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CpioWriterTest {

    /** One newc entry as read back, with where its header and data started in the archive. */
    record Entry(String name, int inode, int mode, int links, byte[] data, int rdevMajor, int rdevMinor,
            int headerOffset, int dataOffset) {}

    @Test
    void writesEveryKindOfEntryAsNewc() throws IOException {
        byte[] archive = archive(cpio -> {
            cpio.directory("bin", 0755);
            cpio.file("bin/busybox", 0755, "#!binary".getBytes(StandardCharsets.US_ASCII));
            cpio.symlink("bin/sh", "busybox");
            cpio.directory("dev", 0755);
            cpio.characterDevice("dev/console", 0600, 5, 1);
        });

        List<Entry> entries = read(archive);

        assertThat(entries).extracting(Entry::name)
                .containsExactly("bin", "bin/busybox", "bin/sh", "dev", "dev/console", "TRAILER!!!");
        assertThat(entries.get(0).mode()).isEqualTo(0040755);
        assertThat(entries.get(0).links()).isEqualTo(2);
        assertThat(entries.get(1).mode()).isEqualTo(0100755);
        assertThat(new String(entries.get(1).data(), StandardCharsets.US_ASCII)).isEqualTo("#!binary");
        assertThat(entries.get(2).mode()).isEqualTo(0120777);
        assertThat(new String(entries.get(2).data(), StandardCharsets.US_ASCII)).isEqualTo("busybox");
        assertThat(entries.get(4).mode()).isEqualTo(0020600);
        assertThat(entries.get(4).rdevMajor()).isEqualTo(5);
        assertThat(entries.get(4).rdevMinor()).isEqualTo(1);
        assertThat(entries.subList(0, 5)).extracting(Entry::inode).doesNotHaveDuplicates().doesNotContain(0);
    }

    @Test
    void alignsEveryHeaderAndEveryFileBodyToFourBytes() throws IOException {
        byte[] archive = archive(cpio -> {
            cpio.directory("a", 0755);
            for (int length = 0; length < 9; length++) {
                // names and bodies of every length modulo 4 exercise every padding case
                cpio.file("a/" + "x".repeat(length + 1), 0644, new byte[length]);
            }
        });

        List<Entry> entries = read(archive);

        assertThat(entries).hasSize(11);
        assertThat(entries).allSatisfy(e -> {
            assertThat(e.headerOffset() % 4).isZero();
            assertThat(e.dataOffset() % 4).isZero();
        });
        assertThat(archive.length % 4).isZero();
    }

    @Test
    void streamsHostFilesAndIsReproducible(@TempDir Path tmp) throws IOException {
        byte[] content = new byte[200_003];
        new java.util.Random(7).nextBytes(content);
        Path source = Files.write(tmp.resolve("blob"), content);

        byte[] first = archive(cpio -> cpio.file("blob", 0600, source));
        byte[] second = archive(cpio -> cpio.file("blob", 0600, content));

        assertThat(read(first).get(0).data()).isEqualTo(content);
        assertThat(first).isEqualTo(second);
    }

    @Test
    void refusesEntriesTheKernelCouldNotUnpack() {
        assertThatThrownBy(() -> archive(cpio -> cpio.file("etc/profile", 0644, new byte[0])))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("directory etc must be added before");
        assertThatThrownBy(() -> archive(cpio -> cpio.file("/init", 0755, new byte[0])))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a relative archive path");
        assertThatThrownBy(() -> archive(cpio -> {
            cpio.directory("a", 0755);
            cpio.file("a/../b", 0644, new byte[0]);
        })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(". or ..");
        assertThatThrownBy(() -> archive(cpio -> {
            cpio.file("init", 0755, new byte[0]);
            cpio.file("init", 0755, new byte[0]);
        })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already has an entry init");
        assertThatThrownBy(() -> archive(cpio -> cpio.file("init", 0100755, new byte[0])))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("within 07777");
    }

    @Test
    void gnuCpioReadsWhatItWrites(@TempDir Path tmp) throws Exception {
        // bin/hypervise test installs GNU cpio as the independent reader of our archives.
        assertThat(onPath("cpio")).as("GNU cpio on PATH").isTrue();
        byte[] archive = archive(cpio -> {
            cpio.directory("bin", 0755);
            cpio.file("bin/hello", 0755, "echo hello\n".getBytes(StandardCharsets.US_ASCII));
            cpio.symlink("bin/sh", "hello");
            cpio.directory("etc", 0700);
            cpio.file("etc/odd", 0640, "abc".getBytes(StandardCharsets.US_ASCII));
        });
        Path file = Files.write(tmp.resolve("archive.cpio"), archive);
        Path out = Files.createDirectory(tmp.resolve("out"));

        Process p = new ProcessBuilder("cpio", "-i", "-d", "--quiet", "--no-absolute-filenames", "-F", file.toString())
                .directory(out.toFile()).redirectErrorStream(true).start();
        String messages = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(p.waitFor()).as(messages).isZero();
        assertThat(Files.readString(out.resolve("bin/hello"))).isEqualTo("echo hello\n");
        assertThat(Files.isExecutable(out.resolve("bin/hello"))).isTrue();
        assertThat(Files.readSymbolicLink(out.resolve("bin/sh")).toString()).isEqualTo("hello");
        assertThat(Files.readString(out.resolve("etc/odd"))).isEqualTo("abc");
    }

    @FunctionalInterface
    interface Contents {
        void writeTo(CpioWriter cpio) throws IOException;
    }

    private static byte[] archive(Contents contents) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (CpioWriter cpio = new CpioWriter(bytes)) {
            contents.writeTo(cpio);
        }
        return bytes.toByteArray();
    }

    /** An independent reader of the format, written from buffer-format.rst, not from the writer. */
    private static List<Entry> read(byte[] archive) {
        List<Entry> entries = new ArrayList<>();
        int at = 0;
        while (true) {
            int header = at;
            assertThat(new String(archive, at, 6, StandardCharsets.US_ASCII)).as("magic at %d", at).isEqualTo("070701");
            int[] f = new int[13];
            for (int i = 0; i < 13; i++) {
                f[i] = (int) Long.parseLong(new String(archive, at + 6 + 8 * i, 8, StandardCharsets.US_ASCII), 16);
            }
            int nameSize = f[11];
            assertThat(archive[at + 110 + nameSize - 1]).as("name is NUL-terminated").isZero();
            String name = new String(archive, at + 110, nameSize - 1, StandardCharsets.UTF_8);
            at = align(at + 110 + nameSize);
            int dataOffset = at;
            byte[] data = Arrays.copyOfRange(archive, at, at + f[6]);
            at = align(at + f[6]);
            assertThat(f[2]).as("uid").isZero();
            assertThat(f[5]).as("mtime").isZero();
            entries.add(new Entry(name, f[0], f[1], f[4], data, f[9], f[10], header, dataOffset));
            if (name.equals("TRAILER!!!")) {
                assertThat(at).as("nothing after the trailer").isEqualTo(archive.length);
                return entries;
            }
        }
    }

    private static int align(int offset) {
        return (offset + 3) & ~3;
    }

    private static boolean onPath(String command) {
        return Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, command)));
    }
}
