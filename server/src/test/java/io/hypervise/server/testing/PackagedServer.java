package io.hypervise.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The packaged server (target/quarkus-app) run as an operator runs it, over a data folder, with its
 * output appended to a log: for tests of what happens across starts, stops and kills.
 */
public final class PackagedServer {

    private static final Path JAR = Path.of("target/quarkus-app/quarkus-run.jar");

    private final Path dataDir;
    private final Path log;
    private final List<String> launcher;
    private final List<String> properties;
    private Process process;
    private int startOffset;

    public PackagedServer(Path dataDir, String... properties) {
        this(dataDir, List.of(), properties);
    }

    /**
     * A server whose JVM is started through {@code launcher}, a command that ends by running the rest of its
     * arguments in the same process (e.g. {@code nsenter --net=... --}: {@link HostNetwork.Host#server}), so that
     * stopping and killing reach the server itself.
     */
    public PackagedServer(Path dataDir, List<String> launcher, String... properties) {
        this.dataDir = dataDir;
        this.log = dataDir.resolve("server.log");
        this.launcher = List.copyOf(launcher);
        this.properties = List.of(properties);
    }

    /** Starts the server and waits (up to 2 minutes) until it says it has started. */
    public void start() throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(launcher);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Dhypervise.data-dir=" + dataDir);
        properties.forEach(p -> command.add("-D" + p));
        command.addAll(List.of("-jar", JAR.toString()));
        long starts = starts();
        startOffset = output().length();
        process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        Instant deadline = Instant.now().plusSeconds(120);
        while (starts() == starts) {
            assertThat(process.isAlive()).as("the server runs; it said:%n%s", output()).isTrue();
            assertThat(Instant.now()).as("the server started within 2 minutes").isBefore(deadline);
            Thread.sleep(100);
        }
    }

    /** Stops it as an init system does (SIGTERM) and waits for its JVM to exit. */
    public void stop() throws InterruptedException {
        process.destroy();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("the server stops within a minute").isTrue();
        process = null;
    }

    /** Kills it outright (SIGKILL): no shutdown hook runs. */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly().waitFor();
            process = null;
        }
    }

    /** Waits (up to a minute) for the server to end by itself, as at a crash point; returns its exit status. */
    public int awaitExit() throws InterruptedException {
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("the server ended by itself within a minute").isTrue();
        int status = process.exitValue();
        process = null;
        return status;
    }

    public String output() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    /** What the server has said since it was last started. */
    public String outputSinceStart() throws IOException {
        return output().substring(startOffset);
    }

    private long starts() throws IOException {
        return output().lines().filter(l -> l.contains(" started in ")).count();
    }
}
