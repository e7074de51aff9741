package io.hypervise.server.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.storage.FileTrees;
import io.hypervise.server.testing.LeftoverProcesses;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The embedded PostgreSQL's life: who it runs as, where it listens, and that it never outlives its server. */
class EmbeddedPostgresTest {

    private Path dir;
    private EmbeddedPostgres.Settings settings;
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeEach
    void folder() throws IOException {
        Path data = Files.createTempDirectory(Path.of("/tmp"), "hvpg",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
        dir = data.resolve("postgres");
        settings = new EmbeddedPostgres.Settings(dir, "hypervise", 0);
    }

    @AfterEach
    void removeFolder() throws Exception {
        for (AutoCloseable c : cleanup.reversed()) {
            c.close();
        }
        assertThat(LeftoverProcesses.mentioning(dir)).isEmpty();
        FileTrees.delete(dir.getParent());
    }

    @Test
    void runsAsAnUnprivilegedAccountOnLoopbackOnlyAndStopsCompletely() throws Exception {
        EmbeddedPostgres pg = started();
        ProcessHandle postmaster = pg.postmaster().orElseThrow();
        int uid = (Integer) Files.getAttribute(Path.of("/proc", Long.toString(postmaster.pid())), "unix:uid");
        OsAccount me = OsAccount.current();
        if (me.isRoot()) {
            assertThat(uid).as("PostgreSQL refuses root: it runs as the hypervise account").isNotZero();
        } else {
            assertThat(uid).isEqualTo(me.uid());
        }
        assertThat(pg.release()).startsWith("PostgreSQL 17.");
        assertThat(query(pg, "SELECT current_setting('listen_addresses') || ' port ' || current_setting('port')"))
                .isEqualTo("127.0.0.1 port " + pg.port());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("credentials.properties"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pg.dataDir()))).isEqualTo("rwx------");

        pg.close();

        assertThat(postmaster.isAlive()).isFalse();
        assertThat(LeftoverProcesses.mentioning(dir)).isEmpty();
    }

    @Test
    void aServerKilledOutrightTakesItsPostgresWithItAndTheNextStartCopes() throws Exception {
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ServerThatGetsKilled.class.getName(), dir.toString())
                .redirectErrorStream(true).start();
        cleanup.add(server::destroyForcibly);
        long postmaster = awaitReady(server);

        server.destroyForcibly(); // SIGKILL: no shutdown hook, no ShutdownEvent
        server.waitFor(30, TimeUnit.SECONDS);

        awaitGone(postmaster, Duration.ofSeconds(30));
        assertThat(Files.readString(dir.resolve("postgres.log"))).contains("received fast shutdown request");

        EmbeddedPostgres pg = started();
        assertThat(query(pg, "SELECT note FROM survivor")).isEqualTo("written before the server was killed");
    }

    @Test
    void aServerKilledTogetherWithItsPostgresLeavesAStalePidFileThatTheNextStartGetsPast() throws Exception {
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ServerThatGetsKilled.class.getName(), dir.toString())
                .redirectErrorStream(true).start();
        cleanup.add(server::destroyForcibly);
        long postmaster = awaitReady(server);

        // Both at once, as an OOM killer or 'kill -9' of the process group would: PostgreSQL gets no
        // chance to remove its pid file, and, its parent gone, may linger as a zombie until init reaps it.
        new ProcessBuilder("kill", "-KILL", Long.toString(postmaster), Long.toString(server.pid())).start().waitFor();
        server.waitFor(30, TimeUnit.SECONDS);
        awaitGone(postmaster, Duration.ofSeconds(30));
        assertThat(dir.resolve("data/postmaster.pid")).exists();

        EmbeddedPostgres pg = started();
        assertThat(query(pg, "SELECT note FROM survivor")).isEqualTo("written before the server was killed");
    }

    @Test
    void aPostgresLeftRunningByAPreviousServerIsStoppedAtTheNextStart() throws Exception {
        started().close();
        // A postmaster without a parent-death signal, as if an earlier server had started it and died.
        OsAccount me = OsAccount.current();
        OsAccount account = me.isRoot() ? OsAccount.systemAccount("hypervise") : me;
        Process orphan = new ProcessBuilder(account.command(me, Optional.empty(), List.of(
                dir.resolve("pgsql/bin/postgres").toString(), "-D", dir.resolve("data").toString(), "-p", Integer.toString(freePort()),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=")))
                .redirectErrorStream(true).redirectOutput(dir.resolve("orphan.log").toFile()).start();
        cleanup.add(orphan::destroyForcibly);
        Instant deadline = Instant.now().plusSeconds(30);
        while (PostmasterPidFile.read(dir.resolve("data")).filter(f -> f.pid() == orphan.pid() && f.ready()).isEmpty()) {
            assertThat(Instant.now()).as("the orphan postmaster is ready").isBefore(deadline);
            assertThat(orphan.isAlive()).as("the orphan postmaster runs").isTrue();
            Thread.sleep(50);
        }

        EmbeddedPostgres pg = started();

        assertThat(orphan.waitFor(10, TimeUnit.SECONDS)).as("the orphan was stopped").isTrue();
        assertThat(pg.postmaster().orElseThrow().pid()).isNotEqualTo(orphan.pid());
        assertThat(query(pg, "SELECT 'still answers'")).isEqualTo("still answers");
    }

    @Test
    void listensOnAnAddressForOtherHostsWhereTheOwnerSignsInButNeverTheSuperuser() throws Exception {
        // A cluster made on loopback alone (its initdb's rules) takes other hosts once restarted with an address.
        started().close();
        int port = freePort();
        settings = new EmbeddedPostgres.Settings(dir, "hypervise", port, "127.0.0.2");
        EmbeddedPostgres pg = started();
        assertThat(query(pg, "SELECT current_setting('listen_addresses')")).isEqualTo("127.0.0.1,127.0.0.2");
        // From 127.0.0.2 (a client on loopback would come from 127.0.0.1, which every role may sign in from).
        String elsewhere = "jdbc:postgresql://127.0.0.2:" + port + "/%s?localSocketAddress=127.0.0.2";
        try (Connection c = DriverManager.getConnection(elsewhere.formatted(EmbeddedPostgres.DATABASE), EmbeddedPostgres.OWNER,
                pg.ownerPassword())) {
            assertThat(c.isValid(5)).isTrue();
        }
        Properties passwords = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve("credentials.properties"))) {
            passwords.load(r);
        }
        assertThatThrownBy(() -> DriverManager.getConnection(elsewhere.formatted("postgres"), EmbeddedPostgres.SUPERUSER,
                passwords.getProperty("superuser.password")).close())
                .hasMessageContaining("no pg_hba.conf entry for host \"127.0.0.2\", user \"postgres\"");
        assertThatThrownBy(() -> DriverManager.getConnection(elsewhere.formatted(EmbeddedPostgres.DATABASE), EmbeddedPostgres.OWNER,
                "not-the-password").close())
                .hasMessageContaining("password authentication failed");
    }

    @Test
    void anAddressForOtherHostsMustBeIPv4WithAFixedPort() {
        assertThatThrownBy(() -> new EmbeddedPostgres.Settings(dir, "hypervise", 5432, "db.example"))
                .hasMessage("hypervise.database.embedded.listen-address: must be an IPv4 address such as 10.0.0.1"
                        + " (127.0.0.1: this host only); got 'db.example'");
        assertThatThrownBy(() -> new EmbeddedPostgres.Settings(dir, "hypervise", 5432, "10.0.0.256"))
                .hasMessageContaining("must be an IPv4 address");
        assertThatThrownBy(() -> new EmbeddedPostgres.Settings(dir, "hypervise", 0, "10.0.0.1"))
                .hasMessageStartingWith("hypervise.database.embedded.port: must be a fixed port (1 to 65535)");
        assertThat(new EmbeddedPostgres.Settings(dir, "hypervise", 0).listenAddress()).isEqualTo("127.0.0.1");
        assertThat(new EmbeddedPostgres.Settings(dir, "hypervise", 8182, " 10.0.0.1 ").listenAddress()).isEqualTo("10.0.0.1");
    }

    private EmbeddedPostgres started() throws IOException {
        EmbeddedPostgres pg = EmbeddedPostgres.start(settings);
        cleanup.add(pg);
        return pg;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static String query(EmbeddedPostgres pg, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), EmbeddedPostgres.OWNER, pg.ownerPassword());
                Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static long awaitReady(Process server) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder said = new StringBuilder();
        for (String line = out.readLine(); line != null; line = out.readLine()) {
            if (line.startsWith("READY ")) {
                return Long.parseLong(line.substring("READY ".length()).strip());
            }
            said.append(line).append('\n');
        }
        throw new AssertionError("the server ended before PostgreSQL was ready:\n" + said);
    }

    /** Gone, or a zombie: dead, and waiting for init to reap it. */
    private static void awaitGone(long pid, Duration timeout) throws Exception {
        Instant deadline = Instant.now().plus(timeout);
        while (true) {
            Optional<String> state = processState(pid);
            if (state.isEmpty() || state.get().equals("Z")) {
                return;
            }
            assertThat(Instant.now()).as("PostgreSQL (PID %d) outlived its killed server", pid).isBefore(deadline);
            Thread.sleep(100);
        }
    }

    private static Optional<String> processState(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return Optional.of(stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
