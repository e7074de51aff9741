package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Folder trees on disk. */
public final class FileTrees {

    private FileTrees() {
    }

    /**
     * Deletes {@code dir} and everything in it, deepest first; nothing if it does not exist. Symbolic
     * links are deleted, never followed, so a link inside cannot lead the deletion elsewhere.
     */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
