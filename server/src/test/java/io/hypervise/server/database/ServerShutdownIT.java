package io.hypervise.server.database;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.testing.LeftoverProcesses;
import io.hypervise.server.testing.PackagedServer;
import io.hypervise.server.testing.TemporaryDataDir;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged server, run as an operator runs it and stopped as an init system stops it (SIGTERM):
 * its PostgreSQL must be gone by the time the server's JVM has exited.
 */
class ServerShutdownIT {

    private Path dataDir;
    private PackagedServer server;

    @BeforeEach
    void folder() throws IOException {
        dataDir = Files.createTempDirectory(Path.of("/tmp"), "hvit",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
        server = new PackagedServer(dataDir, "quarkus.http.port=0");
    }

    @AfterEach
    void cleanUp() throws Exception {
        server.kill();
        TemporaryDataDir.delete(dataDir);
    }

    @Test
    void aStoppedServerLeavesNoPostgresBehindAndTheNextStartFindsItsData() throws Exception {
        server.start();
        assertThat(server.outputSinceStart()).contains("initialising a PostgreSQL cluster", "Successfully applied");
        assertThat(LeftoverProcesses.mentioning(dataDir)).as("the server's PostgreSQL runs from its data folder").isNotEmpty();

        server.stop();
        assertThat(server.outputSinceStart()).contains("embedded PostgreSQL stopped");
        assertThat(LeftoverProcesses.mentioning(dataDir)).as("processes left once the server's JVM has exited").isEmpty();

        server.start();
        assertThat(server.outputSinceStart()).doesNotContain("initialising a PostgreSQL cluster")
                .contains("Schema \"public\" is up to date. No migration necessary.");
        server.stop();
        assertThat(LeftoverProcesses.mentioning(dataDir)).isEmpty();
    }
}
