package io.hypervise.server.testing;

import io.hypervise.engine.storage.FileTrees;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/** Gives the server under test a fresh data folder (short, under /tmp) and removes it afterwards. */
public class TemporaryDataDir implements QuarkusTestResourceLifecycleManager {

    private Path dir;

    @Override
    public Map<String, String> start() {
        try {
            // rwx--x--x: the embedded PostgreSQL, which runs as an unprivileged account when the tests
            // run as root, must pass through this folder to reach its own.
            dir = Files.createTempDirectory(Path.of("/tmp"), "hvs",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path imports = dir.resolve("import");
        try {
            Files.createDirectories(imports);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.of("hypervise.data-dir", dir.toString(), "hypervise.library.import-folders", imports.toString());
    }

    @Override
    public void stop() {
        delete(dir);
    }

    /** Removes a test's data folder and everything in it. */
    public static void delete(Path dir) {
        try {
            FileTrees.delete(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }
}
