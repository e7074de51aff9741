package io.hypervise.server.testing;

import io.hypervise.engine.storage.FileTrees;
import io.hypervise.server.database.EmbeddedPostgres;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real Keycloak with the {@code hypervise} realm, started once per test JVM however many test
 * classes declare this resource, and stopped when the JVM ends. Keycloak comes from
 * {@code HYPERVISE_KEYCLOAK_HOME}, which {@code bin/hypervise test} installs and sets; it runs as a
 * child process on a free port of 127.0.0.1 and keeps its data in a real PostgreSQL of its own: the
 * server's {@link EmbeddedPostgres} (the same PostgreSQL 17), in the same temporary folder.
 *
 * <p>The command line mirrors {@code keycloak_start} in bin/lib/keycloak.sh: its build-time options
 * ({@link #BUILD_OPTIONS}) must stay the same as there, or every start rebuilds the shared install.
 */
public class KeycloakTestResource implements QuarkusTestResourceLifecycleManager {

    public static final String REALM = "hypervise";
    public static final String WEB_CLIENT_ID = "hypervise-web";
    public static final String WEB_CLIENT_SECRET = "hypervise-web-demo-secret";
    public static final String CLI_CLIENT_ID = "hypervise-cli";
    /** The master realm's administrator of the test Keycloak (never of the demo realm). */
    static final String ADMIN = "kc-test-admin";
    static final String ADMIN_PASSWORD = "kc-test-admin";

    /**
     * The realm URL of the running Keycloak, as a system property: @QuarkusTest classes and plain
     * tests may see this class through different class loaders, but they share the JVM's properties.
     * Not under "hypervise.": the server's config mapping owns that prefix and rejects unknown keys.
     */
    static final String URL_PROPERTY = "io.hypervise.test.keycloak-realm-url";

    private static final String VERSION = "26.7.3";
    /** KEYCLOAK_BUILD_OPTIONS in bin/lib/keycloak.sh, with which the install was prepared. */
    private static final List<String> BUILD_OPTIONS = List.of("--db=postgres");
    /** Where bin/hypervise installs Keycloak under the cache; the suffix names the database it was prepared for. */
    private static final String INSTALL_FOLDER = "keycloak-" + VERSION + "-postgres";
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(
            Long.getLong("io.hypervise.test.keycloak-timeout-seconds", 120));
    private static final String DIR_PREFIX = "hv-keycloak-";

    /** A start that failed is not retried by every later test class, each waiting out the timeout. */
    private static RuntimeException failure;

    @Override
    public Map<String, String> start() {
        // Both OIDC tenants (pages and API) take the realm from this one setting.
        return Map.of("hypervise.keycloak.realm-url", realmUrl());
    }

    @Override
    public void stop() {
        // Shared by every test class of this JVM; the shutdown hook stops it when the JVM ends.
    }

    /** The realm's URL, {@code http://127.0.0.1:PORT/realms/hypervise}, starting Keycloak if needed. */
    public static synchronized String realmUrl() {
        String running = System.getProperty(URL_PROPERTY);
        if (running != null) {
            return running;
        }
        if (failure != null) {
            throw new IllegalStateException("Keycloak failed to start earlier in this test run", failure);
        }
        try {
            String url = launch();
            System.setProperty(URL_PROPERTY, url);
            return url;
        } catch (RuntimeException e) {
            failure = e;
            throw e;
        }
    }

    private static String launch() {
        Path home = keycloakHome();
        reapOrphans();
        Path dir;
        int port;
        try {
            // PostgreSQL runs as an unprivileged account under root: it must pass through this folder.
            dir = Files.createTempDirectory(Path.of("/tmp"), DIR_PREFIX,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
            Files.createDirectories(dir.resolve("import"));
            Files.copy(realmFile(), dir.resolve("import/hypervise-realm.json"));
            Files.writeString(dir.resolve("owner.pid"), Long.toString(ProcessHandle.current().pid()));
            port = freePort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare a folder for Keycloak", e);
        }
        Instant started = Instant.now();
        EmbeddedPostgres database = startDatabase(dir);
        String url = "http://127.0.0.1:" + port + "/realms/" + REALM;
        Path log = dir.resolve("keycloak.log");
        List<String> command = new ArrayList<>(List.of(home.resolve("bin/kc.sh").toString(), "start-dev"));
        command.addAll(BUILD_OPTIONS);
        command.addAll(List.of(
                "--http-host=127.0.0.1", "--http-port=" + port, "--hostname=http://127.0.0.1:" + port,
                // The issuer stays this URL; the other URLs (keys, token endpoint) follow the address Keycloak is
                // asked at, so servers in other network namespaces can use it through a forwarder (HostNetwork).
                "--hostname-backchannel-dynamic=true",
                // The database EmbeddedPostgres makes for the server, in a cluster that is Keycloak's alone.
                "--db-url=" + database.jdbcUrl(), "--db-username=" + EmbeddedPostgres.OWNER,
                // Where --import-realm points Keycloak internally: here, a folder of our own.
                "-Dkeycloak.migration.dir=" + dir.resolve("import"),
                "-Dquarkus.transaction-manager.object-store.directory=" + dir.resolve("transaction-logs"),
                "-Dkc.io.tmpdir=" + dir.resolve("tmp")));
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        // Keycloak runs on this JVM's JDK (21 or newer, as the build requires) and ignores the
        // caller's Keycloak settings, which could change its build options.
        Map<String, String> env = builder.environment();
        env.keySet().removeIf(name -> name.startsWith("KC_") || name.startsWith("JAVA_OPTS"));
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("KC_DB_PASSWORD", database.ownerPassword()); // out of sight of ps
        // An administrator of the master realm, for tests that look at Keycloak from the outside (KeycloakAdmin).
        env.put("KC_BOOTSTRAP_ADMIN_USERNAME", ADMIN);
        env.put("KC_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD);

        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            database.close();
            deleteTree(dir);
            throw new UncheckedIOException("cannot start " + home.resolve("bin/kc.sh"), e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> shutDown(process, database, dir), "keycloak-stop"));
        awaitRealm(process, url, log);
        System.out.printf("Keycloak %s ready at %s, its data in %s on 127.0.0.1:%d, after %d s (log: %s)%n",
                VERSION, url, database.release(), database.port(),
                Duration.between(started, Instant.now()).toSeconds(), log);
        return url;
    }

    /**
     * Keycloak's PostgreSQL, in DIR/postgres. It carries a parent-death signal, so it stops with this JVM
     * however the JVM ends; the shutdown hook stops it sooner, right after Keycloak.
     */
    private static EmbeddedPostgres startDatabase(Path dir) {
        try {
            return EmbeddedPostgres.start(new EmbeddedPostgres.Settings(
                    dir.resolve("postgres"), EmbeddedPostgres.DEFAULT_OS_USER, 0));
        } catch (IOException e) {
            deleteTree(dir);
            throw new UncheckedIOException("cannot start a PostgreSQL for Keycloak in " + dir.resolve("postgres"), e);
        }
    }

    private static Path keycloakHome() {
        String configured = System.getenv("HYPERVISE_KEYCLOAK_HOME");
        Path home;
        if (configured != null && !configured.isBlank()) {
            home = Path.of(configured);
        } else {
            // Where bin/hypervise installs it, so that ./mvnw test works once bin/hypervise test has run.
            String cache = System.getenv().getOrDefault("XDG_CACHE_HOME", System.getProperty("user.home") + "/.cache");
            home = Path.of(cache, "hypervise", INSTALL_FOLDER);
            if (!Files.exists(home.resolve(".hypervise-prepared"))) {
                throw new IllegalStateException("These tests need Keycloak " + VERSION + " and HYPERVISE_KEYCLOAK_HOME is not set."
                        + " Run them with 'bin/hypervise test': it installs Keycloak once, under " + home
                        + ", and sets HYPERVISE_KEYCLOAK_HOME.");
            }
        }
        if (!Files.isExecutable(home.resolve("bin/kc.sh"))) {
            throw new IllegalStateException("HYPERVISE_KEYCLOAK_HOME=" + home + " holds no Keycloak (no bin/kc.sh)."
                    + " Run the tests with 'bin/hypervise test', which installs Keycloak " + VERSION + " and sets it.");
        }
        return home;
    }

    /** keycloak/hypervise-realm.json of this checkout, found from the working directory upwards. */
    private static Path realmFile() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("keycloak/hypervise-realm.json");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("cannot find keycloak/hypervise-realm.json above " + Path.of("").toAbsolutePath());
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static void awaitRealm(Process process, String url, Path log) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest discovery = HttpRequest.newBuilder(URI.create(url + "/.well-known/openid-configuration"))
                .timeout(Duration.ofSeconds(5)).build();
        Instant deadline = Instant.now().plus(STARTUP_TIMEOUT);
        while (true) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Keycloak exited with status " + process.exitValue()
                        + " while starting; the end of " + log + ":\n" + tail(log));
            }
            try {
                if (http.send(discovery, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for Keycloak", e);
            }
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("Keycloak did not answer " + discovery.uri() + " within "
                        + STARTUP_TIMEOUT.toSeconds() + " s; the end of " + log + ":\n" + tail(log));
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for Keycloak", e);
            }
        }
    }

    /**
     * Keycloak first, then its database. kc.sh forwards TERM to its JVM and waits for it; the JVM's own
     * pid is signalled too, in case.
     */
    private static void shutDown(Process process, EmbeddedPostgres database, Path dir) {
        List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
        tree.add(process.toHandle());
        tree.forEach(ProcessHandle::destroy);
        for (ProcessHandle p : tree) {
            try {
                p.onExit().get(30, TimeUnit.SECONDS);
            } catch (Exception notStopped) {
                p.destroyForcibly();
            }
        }
        database.close();
        deleteTree(dir);
    }

    /**
     * A test JVM killed outright (kill -9, a CI timeout) runs no shutdown hook and leaves its Keycloak
     * behind (its PostgreSQL stops by itself, on its parent-death signal). Such a Keycloak is
     * recognised by its command line naming one of our folders, and is stopped only when that
     * folder's owner.pid no longer runs.
     */
    private static void reapOrphans() {
        ProcessHandle.allProcesses().forEach(p -> {
            Path dir = ourFolder(p.info().arguments().orElse(new String[0]));
            if (dir == null || ownerAlive(dir)) {
                return;
            }
            System.out.printf("stopping Keycloak %d left behind by a test JVM that is gone (%s)%n", p.pid(), dir);
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            p.onExit().thenRun(() -> deleteTree(dir));
        });
    }

    private static Path ourFolder(String[] arguments) {
        String prefix = "-Dkeycloak.migration.dir=/tmp/" + DIR_PREFIX;
        for (String argument : arguments) {
            if (argument.startsWith(prefix) && argument.endsWith("/import")) {
                return Path.of(argument.substring("-Dkeycloak.migration.dir=".length())).getParent();
            }
        }
        return null;
    }

    private static boolean ownerAlive(Path dir) {
        try {
            long owner = Long.parseLong(Files.readString(dir.resolve("owner.pid")).trim());
            return ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false);
        } catch (IOException | NumberFormatException unreadable) {
            return true; // not sure it is an orphan: leave it alone
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    private static void deleteTree(Path dir) {
        try {
            FileTrees.delete(dir);
        } catch (IOException e) {
            System.err.println("cannot remove " + dir + ": " + e);
        }
    }
}
