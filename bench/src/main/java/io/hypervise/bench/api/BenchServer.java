package io.hypervise.bench.api;

import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The packaged server (server/target/quarkus-app) run as an operator runs it, over a data folder of the
 * benchmark's own, with its embedded PostgreSQL; stopped (and PostgreSQL with it) on close. The direct
 * connection to that PostgreSQL is found the way an operator finds it: the port in PostgreSQL's own
 * postmaster.pid, the passwords in the credentials file the server keeps beside the cluster.
 */
public final class BenchServer implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofMinutes(2);

    private final Process process;
    private final Path dataDir;
    private final Path log;
    private final int port;
    private boolean stopped;

    /** How to reach the server's PostgreSQL directly: the roles the server and its migrations use. */
    public record Database(String jdbcUrl, String appUser, String appPassword, String ownerUser, String ownerPassword,
            long postmasterPid) {

        @Override
        public String toString() {
            return "Database[" + jdbcUrl + ", passwords hidden]";
        }
    }

    private BenchServer(Process process, Path dataDir, Path log, int port) {
        this.process = process;
        this.dataDir = dataDir;
        this.log = log;
        this.port = port;
    }

    /** Starts the server and returns once it says it has started. */
    static BenchServer start(Path jar, Path dataDir, String realmUrl) throws IOException, InterruptedException {
        return start(jar, dataDir, realmUrl, List.of());
    }

    /** Starts the server with more settings ({@code -Dname=value} each) and returns once it has started. */
    public static BenchServer start(Path jar, Path dataDir, String realmUrl, List<String> settings)
            throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        int port = freePort();
        Path log = dataDir.resolve("server.log");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dhypervise.data-dir=" + dataDir,
                "-Dhypervise.keycloak.realm-url=" + realmUrl,
                "-Dhypervise.demo-vm.enabled=false",
                "-Dquarkus.http.port=" + port));
        command.addAll(settings);
        command.addAll(List.of("-jar", jar.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        BenchServer server = new BenchServer(process, dataDir, log, port);
        try {
            server.awaitStarted();
        } catch (IOException | RuntimeException | InterruptedException e) {
            server.close();
            throw e;
        }
        return server;
    }

    private void awaitStarted() throws IOException, InterruptedException {
        Instant deadline = Instant.now().plus(START_TIMEOUT);
        while (!Files.readString(log).contains(" started in ")) {
            if (!process.isAlive()) {
                throw new IOException("the server exited while starting (exit " + process.exitValue() + "); its log:\n" + tail());
            }
            if (Instant.now().isAfter(deadline)) {
                throw new IOException("the server did not start within " + START_TIMEOUT.toSeconds() + " s; its log:\n" + tail());
            }
            Thread.sleep(100);
        }
    }

    URI baseUri() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public long pid() {
        return process.pid();
    }

    Path log() {
        return log;
    }

    /** The folder under which VM paths in a request are taken to be. */
    Path storageRoot() {
        return dataDir.resolve("storage");
    }

    /** PostgreSQL's postmaster.pid: line 1 is the postmaster's PID, line 4 its port. */
    public Database database() throws IOException {
        Path postgres = dataDir.resolve("postgres");
        List<String> pidFile = Files.readAllLines(postgres.resolve("data").resolve("postmaster.pid"));
        Properties credentials = new Properties();
        try (Reader in = Files.newBufferedReader(postgres.resolve("credentials.properties"))) {
            credentials.load(in);
        }
        return new Database("jdbc:postgresql://127.0.0.1:" + pidFile.get(3).strip() + "/hypervise",
                "hypervise_app", credentials.getProperty("app.password"),
                "hypervise", credentials.getProperty("owner.password"),
                Long.parseLong(pidFile.get(0).strip()));
    }

    /** Stops the server as an init system does (SIGTERM), and waits until its PostgreSQL is gone too. */
    @Override
    public synchronized void close() {
        if (stopped) {
            return;
        }
        Optional<ProcessHandle> postmaster = postmaster();
        process.destroy();
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
            // The server stops its PostgreSQL (which also has a parent-death signal); wait until it has.
            if (postmaster.isPresent()) {
                postmaster.get().onExit().get(60, TimeUnit.SECONDS);
            }
        } catch (TimeoutException | ExecutionException e) {
            postmaster.ifPresent(ProcessHandle::destroyForcibly);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        stopped = true;
    }

    /** The running postmaster of this server's cluster, if there is one. */
    private Optional<ProcessHandle> postmaster() {
        Path pidFile = dataDir.resolve("postgres").resolve("data").resolve("postmaster.pid");
        try {
            long pid = Long.parseLong(Files.readAllLines(pidFile).getFirst().strip());
            return ProcessHandle.of(pid).filter(p -> p.info().command().orElse("").endsWith("/postgres"));
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // never started, or already stopped
        }
    }

    private String tail() throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
