package io.hypervise.server.database;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The operating-system account PostgreSQL runs as. PostgreSQL refuses to run as root, so a server
 * running as root runs it as an unprivileged system account; any other server runs it as itself.
 */
record OsAccount(String name, int uid, int gid) {

    private static final Logger LOG = Logger.getLogger(OsAccount.class);
    private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_-]{0,31}");
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    /** useradd's exit codes for "the name is taken" and "cannot lock /etc/passwd or /etc/group". */
    private static final int USERADD_NAME_IN_USE = 9;
    private static final int USERADD_CANNOT_LOCK = 10;

    /** The account this JVM runs as. */
    static OsAccount current() throws IOException {
        Path self = Path.of("/proc/self");
        return new OsAccount(System.getProperty("user.name"), (Integer) Files.getAttribute(self, "unix:uid"),
                (Integer) Files.getAttribute(self, "unix:gid"));
    }

    boolean isRoot() {
        return uid == 0;
    }

    /**
     * The system account of that name, created if it does not exist yet (no home, no login shell).
     * Servers started at the same time may race to create it; the loser finds it made.
     */
    static OsAccount systemAccount(String name) throws IOException {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("hypervise.database.embedded.os-user: '" + name
                    + "' is not a valid account name (lower-case letters, digits, '_' and '-', at most 32)");
        }
        for (int attempt = 1; ; attempt++) {
            Optional<OsAccount> existing = lookup(name);
            if (existing.isPresent()) {
                return existing.get();
            }
            Command.Result created = Command.of("useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                    "--comment", "Hypervise embedded PostgreSQL", name).run(TIMEOUT);
            if (created.succeeded()) {
                LOG.infof("created the system account '%s' to run the embedded PostgreSQL (it refuses to run as root)", name);
                continue;
            }
            boolean raced = created.exitCode() == USERADD_NAME_IN_USE || created.exitCode() == USERADD_CANNOT_LOCK;
            if (!raced || attempt == 5) {
                throw new IOException("cannot create the system account '" + name + "' for PostgreSQL: useradd exited with "
                        + created.exitCode() + ": " + created.output());
            }
            sleep(Duration.ofMillis(200L * attempt));
        }
    }

    private static Optional<OsAccount> lookup(String name) throws IOException {
        Command.Result entry = Command.of("getent", "passwd", name).run(TIMEOUT);
        if (!entry.succeeded()) {
            return Optional.empty();
        }
        // name:password:uid:gid:gecos:home:shell
        String[] fields = entry.output().lines().findFirst().orElse("").split(":", -1);
        if (fields.length < 4) {
            throw new IOException("cannot read the account '" + name + "' from 'getent passwd': " + entry.output());
        }
        return Optional.of(new OsAccount(name, Integer.parseInt(fields[2]), Integer.parseInt(fields[3])));
    }

    /**
     * The command line that runs {@code argv} as this account: through setpriv, which drops root's
     * identity (and, with a parent-death signal, ties the program's life to the thread that started it).
     */
    List<String> command(OsAccount current, Optional<String> parentDeathSignal, List<String> argv) {
        List<String> command = new ArrayList<>();
        if (uid != current.uid() || parentDeathSignal.isPresent()) {
            command.add("setpriv");
            if (uid != current.uid()) {
                command.addAll(List.of("--reuid=" + uid, "--regid=" + gid, "--init-groups"));
            }
            // setpriv sets the signal after changing identity: a change of identity clears it.
            parentDeathSignal.ifPresent(signal -> command.addAll(List.of("--pdeathsig", signal)));
            command.add("--");
        }
        command.addAll(argv);
        return command;
    }

    /** Whether this account may pass through every folder on the way to {@code dir}, and which one stops it. */
    Optional<Path> firstFolderBarring(Path dir) throws IOException {
        Path path = dir.toAbsolutePath().normalize();
        List<Path> chain = new ArrayList<>();
        for (Path p = path; p != null; p = p.getParent()) {
            chain.addFirst(p);
        }
        for (Path p : chain) {
            if (!Files.exists(p)) {
                return Optional.empty();
            }
            int mode = (Integer) Files.getAttribute(p, "unix:mode");
            int owner = (Integer) Files.getAttribute(p, "unix:uid");
            int group = (Integer) Files.getAttribute(p, "unix:gid");
            int searchBit = owner == uid ? 0100 : group == gid ? 0010 : 0001;
            if ((mode & searchBit) == 0) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private static void sleep(Duration d) throws IOException {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
    }
}
