package io.hypervise.engine.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The QMP client against a real, paused QEMU with no devices (TCG: these hosts have no VT-x). */
@Timeout(60)
class QmpClientWithQemuTest {

    private static final String QEMU = "qemu-system-x86_64";

    @TempDir
    Path dir;

    private Process qemu;

    @AfterEach
    void killQemu() throws InterruptedException {
        if (qemu != null && qemu.isAlive()) {
            qemu.destroyForcibly();
            qemu.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void pausedWorkerResumesAndQuitsOverQmp() throws Exception {
        // bin/hypervise test installs QEMU; its absence is a failure, not a reason to skip.
        assertThat(onPath(QEMU)).as(QEMU + " on PATH").isTrue();
        Path socket = dir.resolve("qmp.sock");
        Path log = dir.resolve("qemu.log");
        qemu = new ProcessBuilder(List.of(QEMU, "-accel", "tcg", "-machine", "q35", "-m", "64",
                "-nodefaults", "-no-user-config", "-display", "none", "-S",
                "-qmp", "unix:" + socket + ",server=on,wait=off"))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        RecordingListener listener = new RecordingListener();

        // Connecting at once exercises the retry: QEMU creates the socket a little after it starts.
        try (QmpClient client = QmpClient.connect(socket, Duration.ofSeconds(20), listener)) {
            assertThat(client.execute("query-version").path("qemu").path("major").asInt())
                    .isEqualTo(client.qemuVersion().major());
            assertThat(client.execute("query-status").path("status").asText()).isEqualTo("prelaunch");

            client.execute("cont");
            assertThat(listener.nextEvent().name()).isEqualTo("RESUME");
            assertThat(client.execute("query-status").path("status").asText()).isEqualTo("running");

            client.execute("quit");
            QmpEvent shutdown = listener.nextEvent();
            assertThat(shutdown.name()).isEqualTo("SHUTDOWN");
            assertThat(shutdown.data().path("reason").asText()).isEqualTo("host-qmp-quit");
            assertThat(listener.awaitClose()).isInstanceOf(QmpClosedException.class);
            assertThat(qemu.waitFor(10, TimeUnit.SECONDS)).as("QEMU exits after quit: " + readLog(log)).isTrue();
            assertThat(qemu.exitValue()).isZero();
        }
        assertThat(listener.closeCount()).isEqualTo(1);
    }

    private static boolean onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String directory : path.split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(directory, program))) {
                return true;
            }
        }
        return false;
    }

    private static String readLog(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
