package io.hypervise.server.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hosts as real processes on their own addresses: a network namespace per host, each joined to a bridge of this
 * test run by a veth pair, on a private /24 of its own.
 *
 * <p>What lives where:
 * <ul>
 * <li>the root namespace (this JVM): the bridge, holding the subnet's {@code .1}; the test Keycloak, on 127.0.0.1
 * as for every other test, which servers reach through {@link #keycloakRealmUrl()}: a forwarder on {@code .1}
 * (Keycloak fixes the issuer to its 127.0.0.1 URL and gives every other URL, the keys' among them, under the
 * address it is asked at, so tokens fetched on 127.0.0.1 are valid for servers that fetch keys on {@code .1});</li>
 * <li>each host's namespace ({@link Host}, {@code .2}, {@code .3}, …): its loopback, its end of the veth (eth0),
 * its server ({@link Host#server}, bound to its address; any port, 8080 in each), and whatever that server
 * starts: its embedded PostgreSQL (the cluster's database, when it is the first host and listens on its
 * address), its QEMU workers, its virtual switches.</li>
 * </ul>
 *
 * <p>Every name carries this JVM's PID ({@code hvn<pid>} for the bridge, {@code hvn<pid>-<host>} for a
 * namespace, {@code hvn<pid><host>} for a veth's root end). {@link #close()} removes them (killing any process
 * still inside a namespace), a shutdown hook does if the test did not, and a new network first sweeps away those
 * of runs whose JVM is gone (killed outright), servers left inside included.
 */
public final class HostNetwork implements AutoCloseable {

    private static final String PREFIX = "hvn";
    private static final Pattern OURS = Pattern.compile("^" + PREFIX + "(\\d+)(-?[a-z])?$");
    /** 10.213.N.0/24: a part of 10/8 that nothing here uses; N chosen per run among those free. */
    private static final String SUBNETS = "10.213.";

    private final String tag = PREFIX + ProcessHandle.current().pid();
    private final String subnet;
    private final List<Host> hosts = new ArrayList<>();
    private final Thread cleanup = new Thread(this::removeQuietly, "host-network-cleanup");
    private TcpForwarder keycloak;
    private boolean closed;

    private HostNetwork(String subnet) {
        this.subnet = subnet;
    }

    /** Makes the bridge, on the first free 10.213.N.0/24, after sweeping away what dead runs left. */
    public static HostNetwork create() {
        sweepDeadRuns();
        HostNetwork network = new HostNetwork(freeSubnet());
        Runtime.getRuntime().addShutdownHook(network.cleanup);
        try {
            network.ip("link", "add", network.tag, "type", "bridge");
            network.ip("addr", "add", network.bridgeAddress() + "/24", "dev", network.tag);
            network.ip("link", "set", network.tag, "up");
        } catch (RuntimeException e) {
            network.close();
            throw e;
        }
        return network;
    }

    /** The root namespace's address on the bridge, where hosts reach what runs outside their namespaces. */
    public String bridgeAddress() {
        return subnet + "1";
    }

    /** Adds a host named by one lowercase letter: its namespace, its veth into the bridge, its address. */
    public synchronized Host addHost(char name) {
        if (name < 'a' || name > 'z' || hosts.stream().anyMatch(h -> h.name == name)) {
            throw new IllegalArgumentException("a host's name is one lowercase letter, once per network; got '" + name + "'");
        }
        Host host = new Host(name, tag + "-" + name, tag + name, subnet + (hosts.size() + 2));
        hosts.add(host);
        ip("netns", "add", host.namespace);
        ip("link", "add", host.rootEnd, "type", "veth", "peer", "name", "eth0", "netns", host.namespace);
        ip("link", "set", host.rootEnd, "master", tag, "up");
        ip("-n", host.namespace, "addr", "add", host.address + "/24", "dev", "eth0");
        ip("-n", host.namespace, "link", "set", "eth0", "up");
        ip("-n", host.namespace, "link", "set", "lo", "up");
        return host;
    }

    /** The test Keycloak's realm URL as seen from the hosts: through a forwarder on the bridge's address. */
    public synchronized String keycloakRealmUrl() {
        String realm = KeycloakTestResource.realmUrl();
        if (keycloak == null) {
            keycloak = TcpForwarder.start(new InetSocketAddress(bridgeAddress(), 0),
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), URI.create(realm).getPort()));
        }
        return "http://" + bridgeAddress() + ":" + keycloak.port() + URI.create(realm).getPath();
    }

    @Override
    public synchronized void close() {
        removeQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or ran
        }
    }

    private synchronized void removeQuietly() {
        if (closed) {
            return;
        }
        closed = true;
        if (keycloak != null) {
            keycloak.close();
        }
        remove(tag, hosts.stream().map(h -> h.namespace).toList());
    }

    /**
     * Deleting a namespace takes its end of the veth with it; the root end and the bridge go explicitly. A process
     * still in one of the namespaces (a server whose test JVM was killed) is killed first: deleting the namespace's
     * name would leave it running, unreachable, on its data.
     */
    private static void remove(String tag, List<String> namespaces) {
        for (String namespace : namespaces) {
            for (String pid : run(false, "ip", "netns", "pids", namespace).lines().filter(l -> l.matches("\\d+")).toList()) {
                System.out.printf("killing process %s, left in the test network namespace %s%n", pid, namespace);
                ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
            }
            run(false, "ip", "netns", "del", namespace);
        }
        for (String link : links()) {
            Matcher m = OURS.matcher(link);
            if (m.matches() && (PREFIX + m.group(1)).equals(tag) && !link.equals(tag)) {
                run(false, "ip", "link", "del", link);
            }
        }
        run(false, "ip", "link", "del", tag);
    }

    /** Namespaces, veths and bridges named for a JVM that no longer runs. */
    private static void sweepDeadRuns() {
        Set<String> dead = new HashSet<>();
        List<String> namespaces = new ArrayList<>();
        for (String line : run(true, "ip", "netns", "list").lines().toList()) {
            String name = line.split(" ")[0];
            Matcher m = OURS.matcher(name);
            if (m.matches() && !alive(m.group(1))) {
                dead.add(PREFIX + m.group(1));
                namespaces.add(name);
            }
        }
        for (String link : links()) {
            Matcher m = OURS.matcher(link);
            if (m.matches() && !alive(m.group(1))) {
                dead.add(PREFIX + m.group(1));
            }
        }
        for (String tag : dead) {
            System.out.printf("removing the host network %s left by a test JVM that is gone%n", tag);
            remove(tag, namespaces.stream().filter(n -> n.startsWith(tag + "-")).toList());
        }
    }

    private static boolean alive(String pid) {
        return ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false);
    }

    /** The root namespace's interface names ("name@peer" without the peer). */
    private static List<String> links() {
        return run(true, "ip", "-o", "link", "show").lines()
                .map(l -> l.split(": ")[1].split("@")[0])
                .toList();
    }

    private static String freeSubnet() {
        String used = run(true, "ip", "-o", "-4", "addr", "show") + run(true, "ip", "-4", "route", "show", "table", "all");
        long start = ProcessHandle.current().pid() % 250;
        for (int i = 0; i < 250; i++) {
            String candidate = SUBNETS + ((start + i) % 250 + 1) + ".";
            if (!used.contains(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no free 10.213.N.0/24 for a test network: all 250 are in use");
    }

    private void ip(String... arguments) {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(arguments));
        run(true, command.toArray(String[]::new));
    }

    /** Runs a command (an argument list, never a shell string); with {@code check}, a failure throws. */
    static String run(boolean check, String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish within 30 s");
            }
            if (check && p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed (" + p.exitValue() + "): " + output.strip());
            }
            return output;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + String.join(" ", command), e);
        }
    }

    /** One host: a namespace with its own address on the bridge. */
    public final class Host {

        private final char name;
        private final String namespace;
        private final String rootEnd;
        private final String address;

        private Host(char name, String namespace, String rootEnd, String address) {
            this.name = name;
            this.namespace = namespace;
            this.rootEnd = rootEnd;
            this.address = address;
        }

        /** Its IPv4 address on the bridge. */
        public String address() {
            return address;
        }

        public String namespace() {
            return namespace;
        }

        /**
         * The packaged server over {@code dataDir}, run in this host's namespace, serving on its address at
         * {@code port}, and telling the cluster so ({@code hypervise.cluster.address}).
         */
        public PackagedServer server(Path dataDir, int port, String... properties) {
            List<String> all = new ArrayList<>(List.of("quarkus.http.host=" + address, "quarkus.http.port=" + port,
                    "hypervise.cluster.address=" + url(port)));
            all.addAll(List.of(properties));
            return new PackagedServer(dataDir, List.of("nsenter", "--net=/run/netns/" + namespace, "--"),
                    all.toArray(String[]::new));
        }

        /** {@code http://<address>:<port>}. */
        public String url(int port) {
            return "http://" + address + ":" + port;
        }

        /** Cuts the host off: its end of the veth goes down, as a pulled cable (its address stays). */
        public void cutLink() {
            ip("-n", namespace, "link", "set", "eth0", "down");
        }

        /** Plugs it back: its end of the veth goes up, and with it the route to the bridge. */
        public void restoreLink() {
            ip("-n", namespace, "link", "set", "eth0", "up");
        }
    }
}
