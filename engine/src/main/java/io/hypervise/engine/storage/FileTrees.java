package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Folder trees on disk. */
public final class FileTrees {

    private FileTrees() {
    }

    /**
     * Deletes {@code dir} and everything in it, deepest first; nothing if it does not exist. Symbolic
     * links are deleted, never followed, so a link inside cannot lead the deletion elsewhere; mounts inside
     * (a confined worker's media folder, left by a worker that ended with no engine watching) are unmounted
     * first, so the deletion never reaches through one into what is mounted there.
     */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        unmountUnder(dir.toAbsolutePath().normalize());
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Unmounts (lazily, deepest first) every mount at or under {@code dir} in this process's mount table. */
    static void unmountUnder(Path dir) throws IOException {
        Path table = Path.of("/proc/self/mountinfo");
        if (!Files.isReadable(table)) {
            return;
        }
        List<Path> mounts = new ArrayList<>();
        for (String line : Files.readAllLines(table)) {
            String[] fields = line.split(" ");
            if (fields.length > 4) {
                Path point = Path.of(unescape(fields[4]));
                if (point.startsWith(dir)) {
                    mounts.add(point);
                }
            }
        }
        mounts.sort(Comparator.comparingInt(Path::getNameCount).reversed());
        for (Path mount : mounts) {
            Process p = new ProcessBuilder("umount", "-l", mount.toString()).redirectErrorStream(true).start();
            try {
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IOException("cannot unmount " + mount + " before deleting " + dir + ": " + out);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while unmounting " + mount, e);
            }
        }
    }

    /** mountinfo writes space, tab, newline and backslash as three-digit octal escapes. */
    public static String unescape(String field) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length() && field.substring(i + 1, i + 4).chars().allMatch(d -> d >= '0' && d <= '7')) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
