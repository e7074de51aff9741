package io.hypervise.server.database;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.LeftoverProcesses;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged server, run as an operator runs it and stopped as an init system stops it (SIGTERM):
 * its PostgreSQL must be gone by the time the server's JVM has exited.
 */
class ServerShutdownIT {

    private static final Path SERVER = Path.of("target/quarkus-app/quarkus-run.jar");

    private Path dataDir;
    private Path log;
    private Process server;

    @BeforeEach
    void folder() throws IOException {
        dataDir = Files.createTempDirectory(Path.of("/tmp"), "hvit",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
        log = dataDir.resolve("server.log");
    }

    @AfterEach
    void cleanUp() throws IOException {
        if (server != null) {
            server.destroyForcibly();
        }
        PostgresBinaries.deleteTree(dataDir);
    }

    @Test
    void aStoppedServerLeavesNoPostgresBehindAndTheNextStartFindsItsData() throws Exception {
        start();
        assertThat(output()).contains("initialising a PostgreSQL cluster", "Successfully applied 2 migrations");
        assertThat(LeftoverProcesses.mentioning(dataDir)).as("the server's PostgreSQL runs from its data folder").isNotEmpty();

        stop();
        assertThat(output()).contains("embedded PostgreSQL stopped");
        assertThat(LeftoverProcesses.mentioning(dataDir)).as("processes left once the server's JVM has exited").isEmpty();

        start();
        assertThat(output()).doesNotContain("initialising a PostgreSQL cluster")
                .contains("Schema \"public\" is up to date. No migration necessary.");
        stop();
        assertThat(LeftoverProcesses.mentioning(dataDir)).isEmpty();
    }

    private void start() throws Exception {
        Files.deleteIfExists(log);
        server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dhypervise.data-dir=" + dataDir, "-Dquarkus.http.port=0", "-jar", SERVER.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Instant deadline = Instant.now().plusSeconds(120);
        while (!output().contains(" started in ")) {
            assertThat(server.isAlive()).as("the server runs; it said:%n%s", output()).isTrue();
            assertThat(Instant.now()).as("the server started within 2 minutes").isBefore(deadline);
            Thread.sleep(100);
        }
    }

    private String output() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    private void stop() throws InterruptedException {
        server.destroy(); // SIGTERM
        assertThat(server.waitFor(60, TimeUnit.SECONDS)).as("the server stops within a minute").isTrue();
        server = null;
    }
}
