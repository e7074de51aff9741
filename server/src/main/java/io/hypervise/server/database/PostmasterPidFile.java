package io.hypervise.server.database;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * PostgreSQL's {@code postmaster.pid}: the postmaster's PID, its data folder, port and status
 * ("starting", "ready", "stopping"). Like any pidfile it may outlive its process, so the PID is
 * trusted only after a look at the process itself.
 */
record PostmasterPidFile(long pid, String dataDir, int port, String status) {

    static final String NAME = "postmaster.pid";

    static Optional<PostmasterPidFile> read(Path dataDir) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(dataDir.resolve(NAME));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        if (lines.isEmpty() || lines.getFirst().isBlank()) {
            return Optional.empty(); // being written this very moment
        }
        try {
            long pid = Long.parseLong(lines.getFirst().strip());
            String dir = lines.size() > 1 ? lines.get(1) : "";
            int port = lines.size() > 3 && !lines.get(3).isBlank() ? Integer.parseInt(lines.get(3).strip()) : 0;
            String status = lines.size() > 7 ? lines.get(7).strip() : "";
            return Optional.of(new PostmasterPidFile(pid, dir, port, status));
        } catch (NumberFormatException e) {
            throw new IOException("cannot read " + dataDir.resolve(NAME) + ": " + e.getMessage(), e);
        }
    }

    boolean ready() {
        return status.equals("ready");
    }
}
