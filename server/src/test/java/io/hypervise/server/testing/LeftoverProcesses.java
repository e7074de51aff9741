package io.hypervise.server.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Processes whose command line mentions a folder: what a test checks is gone once the server that started them is. */
public final class LeftoverProcesses {

    private LeftoverProcesses() {
    }

    /** Each as "PID: command line"; zombies (exited, not yet reaped) have no command line and do not count. */
    public static List<String> mentioning(Path dir) {
        List<String> found = new ArrayList<>();
        String needle = dir.toAbsolutePath().toString();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                String cmdline;
                try {
                    cmdline = new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ').strip();
                } catch (IOException e) {
                    continue; // it ended while we looked
                }
                if (cmdline.contains(needle)) {
                    found.add(proc.getFileName() + ": " + cmdline);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return found;
    }

    /**
     * Those still there after waiting up to {@code patience} for them to go: a killed server's embedded
     * PostgreSQL shuts itself down on its parent's death, which takes it a moment.
     */
    public static List<String> mentioningAfter(Path dir, java.time.Duration patience) throws InterruptedException {
        long deadline = System.nanoTime() + patience.toNanos();
        List<String> found = mentioning(dir);
        while (!found.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            found = mentioning(dir);
        }
        return found;
    }
}
