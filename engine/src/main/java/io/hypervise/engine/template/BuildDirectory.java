package io.hypervise.engine.template;

import io.hypervise.engine.storage.FileTrees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Deletes a build directory that may hold a chroot. debootstrap mounts /proc, /sys and /dev/pts inside
 * its target while it runs and unmounts them when it ends; a build killed halfway leaves them mounted,
 * and deleting through a mounted /sys or /proc must never be attempted. So: unmount first, or refuse.
 */
final class BuildDirectory {

    private BuildDirectory() {}

    static void delete(Path dir) throws IOException {
        List<String> mounts = mountsUnder(dir);
        for (String mount : mounts.reversed()) {
            new HostTools("unmounting what a killed build left mounted").run(Duration.ofMinutes(1),
                    List.of("umount", "--lazy", mount));
        }
        if (!mountsUnder(dir).isEmpty()) {
            throw new IOException("will not delete " + dir + ": file systems are still mounted in it: " + mountsUnder(dir));
        }
        FileTrees.delete(dir);
    }

    /** Mount points at or under {@code dir}, outermost first (/proc/self/mountinfo lists them in mount order). */
    static List<String> mountsUnder(Path dir) throws IOException {
        String prefix = dir.toAbsolutePath().normalize().toString();
        Path mountinfo = Path.of("/proc/self/mountinfo");
        if (!Files.isReadable(mountinfo)) {
            return List.of();
        }
        return Files.readAllLines(mountinfo, StandardCharsets.UTF_8).stream()
                .map(line -> unescape(line.split(" ")[4]))
                .filter(point -> point.equals(prefix) || point.startsWith(prefix + "/"))
                .toList();
    }

    /** mountinfo writes space, tab, newline and backslash in paths as octal escapes. */
    private static String unescape(String field) {
        return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
