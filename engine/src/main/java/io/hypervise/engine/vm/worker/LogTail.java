package io.hypervise.engine.vm.worker;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The last lines of a log that may be large and still growing, read from its end only. */
public final class LogTail {

    private LogTail() {
    }

    /** Up to {@code lines} last lines found in the file's last {@code maxBytes}; empty if there is no file. */
    public static List<String> of(Path file, int lines, int maxBytes) {
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long length = raf.length();
            long from = Math.max(0, length - maxBytes);
            byte[] buf = new byte[(int) (length - from)];
            raf.seek(from);
            raf.readFully(buf);
            List<String> all = new String(buf, StandardCharsets.UTF_8).lines().toList();
            return all.subList(Math.max(0, all.size() - lines), all.size());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
