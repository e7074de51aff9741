package io.hypervise.engine.network;

import com.fasterxml.jackson.databind.JsonNode;
import io.hypervise.engine.network.NetworkException.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The host's virtual switches: Linux bridges that the kernel switches frames on, one tap device per VM
 * network adapter as the switch's port. The kernel holds all of it, so a switch and its VMs' traffic do
 * not depend on this process: the server can restart while the VMs talk. The kernel also counts every
 * port's traffic, which is where the VMs' network counters come from.
 *
 * <p>Needs CAP_NET_ADMIN, /dev/net/tun and iproute2; {@link #unavailable()} says which is missing. A port may
 * be limited in bandwidth ({@link #limit}) where the kernel's traffic control allows ({@link PortLimits}).
 * Changes are serialised; reading (lists, ports, counters) reads sysfs and iproute2 without a lock.
 */
public final class VirtualSwitches {

    /** A switch id: its bridge is "hvs-" + id, and an interface name has at most 15 bytes. */
    public static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,10}");
    /** The highest VLAN a port may carry (4095 is reserved). */
    public static final int MAX_VLAN = 4094;
    public static final String ID_RULE = "must be 1 to 11 lower-case letters, digits or dashes, starting with a letter or digit";

    private static final String BRIDGE_PREFIX = "hvs-";
    private static final String PORT_PREFIX = "hvt";
    private static final String VLAN_PREFIX = "hvv";
    private static final String ALIAS_PREFIX = "hypervise:";
    private static final Pattern PORT_ALIAS = Pattern.compile("hypervise:vm=([a-z0-9-]+) nic=(\\d+)(?: vlan=(\\d+))?");
    private static final int DEFAULT_VLAN = 1;
    private static final int CAP_NET_ADMIN = 12;
    private static final Path SYS_CLASS_NET = PortCounters.SYS_CLASS_NET;
    private static final Path IPV6_CONF = Path.of("/proc/sys/net/ipv6/conf");

    private final IpCommand ip;
    private final Optional<String> unavailable;
    private final PortLimits limits;
    private final Object changes = new Object();

    private VirtualSwitches(IpCommand ip, Optional<String> unavailable, PortLimits limits) {
        this.ip = ip;
        this.unavailable = unavailable;
        this.limits = limits;
    }

    /** Looks at what this host allows; switches, and limits on their ports, are offered only where they can work. */
    public static VirtualSwitches probe() {
        IpCommand ip = new IpCommand();
        Optional<String> unavailable = whyUnavailable(ip);
        return new VirtualSwitches(ip, unavailable, PortLimits.probe(ip, unavailable));
    }

    private static Optional<String> whyUnavailable(IpCommand ip) {
        if (!Files.exists(Path.of("/dev/net/tun"))) {
            return Optional.of("this host has no /dev/net/tun (load the tun module), so VMs cannot get switch ports");
        }
        if (!hasNetAdmin()) {
            return Optional.of("the server lacks CAP_NET_ADMIN, which creating bridges and tap devices needs;"
                    + " run it as root or grant it the capability");
        }
        try {
            ip.run("-V");
        } catch (NetworkException e) {
            return Optional.of("iproute2's ip command is missing (apt-get install iproute2): " + e.getMessage());
        }
        return Optional.empty();
    }

    private static boolean hasNetAdmin() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/status"))) {
            return lines.filter(l -> l.startsWith("CapEff:")).findFirst()
                    .map(l -> (Long.parseUnsignedLong(l.substring(7).trim(), 16) >>> CAP_NET_ADMIN & 1) == 1)
                    .orElse(false);
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }

    /** Why this host cannot run virtual switches; empty where it can. */
    public Optional<String> unavailable() {
        return unavailable;
    }

    /** Why this host cannot limit what VMs receive through their switch ports; empty where it can. */
    public Optional<String> receiveLimitUnavailable() {
        return limits.receiveUnavailable();
    }

    /** Why this host cannot limit what VMs send through their switch ports; empty where it can. */
    public Optional<String> transmitLimitUnavailable() {
        return limits.transmitUnavailable();
    }

    /**
     * Limits the bandwidth of the VM's port {@code nic}, in bits per second, or lifts a limit (null): what the
     * VM receives through it, what it sends through it. Replaces what the port had; the port must be plugged in.
     * A port's limits go with the port when it is unplugged.
     */
    public void limit(String vmId, int nic, Long receiveBitsPerSecond, Long transmitBitsPerSecond) {
        requireAvailable();
        synchronized (changes) {
            String port = portName(vmId, nic);
            if (!Files.exists(SYS_CLASS_NET.resolve(port))) {
                throw new NetworkException(Reason.NOT_FOUND, "VM " + vmId + " has no switch port " + nic + " (" + port + ") to limit");
            }
            limits.apply(port, receiveBitsPerSecond, transmitBitsPerSecond);
        }
    }

    public static String bridgeName(String id) {
        return BRIDGE_PREFIX + id;
    }

    /**
     * The tap device of a VM's adapter: "hvt" + 40 bits of the VM id's SHA-256 + the adapter's position.
     * Derived, not stored, so that whoever stops the VM finds its ports.
     */
    public static String portName(String vmId, int nic) {
        return PORT_PREFIX + hash(vmId).substring(0, 10) + Integer.toHexString(nic);
    }

    /** SHA-256 in hex: short, fixed-length, collision-safe names from ids of any length. */
    private static String hash(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** The switches on this host, by id. */
    public List<VirtualSwitch> list() {
        if (unavailable.isPresent()) {
            return List.of();
        }
        List<VirtualSwitch> switches = new ArrayList<>();
        for (JsonNode link : ip.json("-details", "address", "show", "type", "bridge")) {
            String name = link.path("ifname").asText();
            Optional<SwitchKind> kind = SwitchKind.of(link.path("ifalias").asText().replaceFirst("^" + ALIAS_PREFIX, ""));
            if (!name.startsWith(BRIDGE_PREFIX) || kind.isEmpty()) {
                continue; // a bridge someone else made: not ours to show or change
            }
            Optional<HostAddress> address = Optional.empty();
            for (JsonNode a : link.path("addr_info")) {
                if (a.path("family").asText().equals("inet")) {
                    address = Optional.of(new HostAddress(ipv4(a.path("local").asText()), a.path("prefixlen").asInt()));
                }
            }
            switches.add(new VirtualSwitch(name.substring(BRIDGE_PREFIX.length()), kind.get(),
                    kind.get() == SwitchKind.PRIVATE ? Optional.empty() : address));
        }
        return switches;
    }

    public Optional<VirtualSwitch> find(String id) {
        return list().stream().filter(s -> s.id().equals(id)).findFirst();
    }

    /**
     * Makes the switch exist as described: creates its bridge, or brings an existing one to this kind and
     * address. Idempotent, so a server can re-apply its inventory at every start.
     */
    public VirtualSwitch ensure(VirtualSwitch wanted) {
        requireAvailable();
        checkId(wanted.id());
        synchronized (changes) {
            String bridge = wanted.bridge();
            Optional<VirtualSwitch> existing = find(wanted.id());
            if (existing.isPresent() && existing.get().equals(wanted)) {
                return wanted;
            }
            if (wanted.hostAddress().isPresent()) {
                checkNoOverlap(wanted.hostAddress().get(), bridge);
            }
            if (existing.isEmpty() && Files.exists(SYS_CLASS_NET.resolve(bridge))) {
                throw new NetworkException(Reason.INVALID, "the host already has a network interface named " + bridge
                        + " that Hypervise did not make; choose another switch id");
            }
            if (existing.isEmpty()) {
                ip.run("link", "add", "name", bridge, "type", "bridge", "forward_delay", "0");
            }
            try {
                ip.run("address", "flush", "dev", bridge);
                // Without IPv6 the host has no link-local address on the switch: a private switch really
                // reaches no host, and an internal one carries only what its IPv4 address invites.
                disableIpv6(bridge);
                if (wanted.hostAddress().isPresent()) {
                    ip.run("address", "add", wanted.hostAddress().get().toString(), "dev", bridge);
                }
                ip.run("link", "set", "dev", bridge, "up");
                // Last: the alias is what makes the bridge a switch, so a half-made one is never taken for one.
                ip.run("link", "set", "dev", bridge, "alias", ALIAS_PREFIX + wanted.kind().label());
            } catch (NetworkException e) {
                if (existing.isEmpty()) {
                    deleteQuietly(bridge, e);
                }
                throw e;
            }
            return wanted;
        }
    }

    /** Removes the switch. Refused while VMs are plugged into it. */
    public void delete(String id) {
        requireAvailable();
        synchronized (changes) {
            VirtualSwitch s = find(id).orElseThrow(() -> notFound(id));
            List<SwitchPort> ports = ports(id);
            if (!ports.isEmpty()) {
                throw new NetworkException(Reason.IN_USE, "virtual switch '" + id + "' still has " + ports.size()
                        + " VM adapter(s) plugged in (" + String.join(", ", ports.stream()
                                .map(p -> p.vmId().orElse(p.port())).distinct().toList()) + "); turn those VMs off first");
            }
            for (String vlanBridge : vlanBridges(id)) {
                ip.run("link", "delete", "dev", vlanBridge);
            }
            ip.run("link", "delete", "dev", s.bridge());
        }
    }

    /** The VM adapters plugged into the switch now (on any of its VLANs), with their counters. */
    public List<SwitchPort> ports(String id) {
        List<SwitchPort> ports = new ArrayList<>(portsOf(bridgeName(id)));
        for (String vlanBridge : vlanBridges(id)) {
            ports.addAll(portsOf(vlanBridge));
        }
        return ports;
    }

    private static List<SwitchPort> portsOf(String bridge) {
        Path brif = SYS_CLASS_NET.resolve(bridge).resolve("brif");
        if (!Files.isDirectory(brif)) {
            return List.of();
        }
        List<SwitchPort> ports = new ArrayList<>();
        try (Stream<Path> members = Files.list(brif)) {
            for (Path member : members.sorted().toList()) {
                String port = member.getFileName().toString();
                Matcher alias = PORT_ALIAS.matcher(alias(port));
                boolean ours = alias.matches();
                ports.add(new SwitchPort(port, ours ? Optional.of(alias.group(1)) : Optional.empty(),
                        ours ? Integer.parseInt(alias.group(2)) : -1,
                        ours && alias.group(3) != null ? Optional.of(Integer.parseInt(alias.group(3))) : Optional.empty(),
                        PortCounters.of(port)));
            }
        } catch (IOException e) {
            return ports; // the switch went away while it was read
        }
        return ports;
    }

    /** A port on the switch's default VLAN; see {@link #plug(String, int, String, Integer)}. */
    public String plug(String vmId, int nic, String switchId) {
        return plug(vmId, nic, switchId, null);
    }

    /**
     * Gives the VM's adapter a fresh port on the switch and returns the tap device's name, for the worker
     * to open. A port left from an earlier run of the VM is replaced, so counters start from zero.
     *
     * @param vlan the VLAN the port carries untagged (the guest sees plain Ethernet), so that it reaches
     *             only ports of that VLAN; null for the default, VLAN 1, which the host's side is on
     */
    public String plug(String vmId, int nic, String switchId, Integer vlan) {
        return plug(vmId, nic, switchId, vlan, null);
    }

    /**
     * As {@link #plug(String, int, String, Integer)}, for a worker that runs as {@code owner} (a confined one,
     * with no capabilities): the tap is that user's and group's, the only way it may attach to it.
     */
    public String plug(String vmId, int nic, String switchId, Integer vlan, Integer owner) {
        requireAvailable();
        if (vlan != null && (vlan < 1 || vlan > MAX_VLAN)) {
            throw new NetworkException(Reason.INVALID, "vlan must be from 1 to " + MAX_VLAN + "; got " + vlan);
        }
        synchronized (changes) {
            VirtualSwitch s = find(switchId).orElseThrow(() -> notFound(switchId));
            String port = portName(vmId, nic);
            if (Files.exists(SYS_CLASS_NET.resolve(port))) {
                ip.run("link", "delete", "dev", port);
            }
            if (owner == null) {
                ip.run("tuntap", "add", "dev", port, "mode", "tap");
            } else {
                ip.run("tuntap", "add", "dev", port, "mode", "tap", "user", owner.toString(), "group", owner.toString());
            }
            ip.run("link", "set", "dev", port, "alias", ALIAS_PREFIX + "vm=" + vmId + " nic=" + nic
                    + (vlan == null ? "" : " vlan=" + vlan));
            disableIpv6(port);
            String master = vlan == null || vlan == DEFAULT_VLAN ? s.bridge() : vlanBridge(switchId, vlan);
            ip.run("link", "set", "dev", port, "master", master, "up");
            return port;
        }
    }

    /** Removes the ports numbered 0 to {@code nics} - 1 of the VM, those that exist, and VLANs left empty. */
    public void unplug(String vmId, int nics) {
        unplug(vmId, java.util.stream.IntStream.range(0, nics).boxed().toList());
    }

    /** Removes the VM's ports of these numbers, those that exist, and VLANs left empty. */
    public void unplug(String vmId, List<Integer> ports) {
        if (unavailable.isPresent()) {
            return;
        }
        synchronized (changes) {
            for (int i : ports) {
                String port = portName(vmId, i);
                if (Files.exists(SYS_CLASS_NET.resolve(port))) {
                    ip.run("link", "delete", "dev", port);
                }
            }
            for (String vlanBridge : names(VLAN_PREFIX)) {
                if (portsOf(vlanBridge).isEmpty()) {
                    ip.run("link", "delete", "dev", vlanBridge);
                }
            }
        }
    }

    /**
     * The bridge that carries one VLAN of a switch, made when its first port is plugged in and removed
     * with its last. A VLAN is its own bridge (as Proxmox's non-VLAN-aware bridges do), not a VLAN of a
     * VLAN-filtering bridge: kernels built without CONFIG_BRIDGE_VLAN_FILTERING, as on these machines,
     * refuse that. It has no host address, so a VLAN reaches neither the host nor the switch's other
     * VLANs. Called with the change lock held.
     */
    private String vlanBridge(String switchId, int vlan) {
        String name = vlanBridgeName(switchId, vlan);
        if (!Files.exists(SYS_CLASS_NET.resolve(name))) {
            ip.run("link", "add", "name", name, "type", "bridge", "forward_delay", "0");
            try {
                disableIpv6(name);
                ip.run("link", "set", "dev", name, "alias", ALIAS_PREFIX + "switch=" + switchId + " vlan=" + vlan, "up");
            } catch (NetworkException e) {
                deleteQuietly(name, e);
                throw e;
            }
        }
        return name;
    }

    /** "hvv" + 32 bits of the switch id's hash + the VLAN in three hex digits: 14 bytes. */
    static String vlanBridgeName(String switchId, int vlan) {
        return VLAN_PREFIX + hash(switchId).substring(0, 8) + String.format("%03x", vlan);
    }

    /** The VLAN bridges of a switch that exist now. */
    private static List<String> vlanBridges(String switchId) {
        String prefix = VLAN_PREFIX + hash(switchId).substring(0, 8);
        String alias = ALIAS_PREFIX + "switch=" + switchId + " ";
        return names(prefix).stream().filter(b -> alias(b).startsWith(alias)).toList();
    }

    private static List<String> names(String prefix) {
        try (Stream<Path> links = Files.list(SYS_CLASS_NET)) {
            return links.map(l -> l.getFileName().toString()).filter(n -> n.startsWith(prefix)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private void deleteQuietly(String link, Exception cause) {
        try {
            ip.run("link", "delete", "dev", link);
        } catch (NetworkException cleanup) {
            cause.addSuppressed(cleanup);
        }
    }

    private void checkNoOverlap(HostAddress wanted, String bridge) {
        for (JsonNode link : ip.json("address", "show")) {
            if (link.path("ifname").asText().equals(bridge)) {
                continue;
            }
            for (JsonNode a : link.path("addr_info")) {
                if (!a.path("family").asText().equals("inet")) {
                    continue;
                }
                HostAddress other = new HostAddress(ipv4(a.path("local").asText()), a.path("prefixlen").asInt());
                int prefix = Math.min(other.prefix(), wanted.prefix());
                int mask = -1 << (32 - prefix);
                if ((other.address() & mask) == (wanted.address() & mask)) {
                    throw new NetworkException(Reason.INVALID, "hostAddress " + wanted + " overlaps " + other
                            + " on the host's interface " + link.path("ifname").asText() + "; choose another network");
                }
            }
        }
    }

    private static int ipv4(String dotted) {
        int a = 0;
        for (String octet : dotted.split("\\.")) {
            a = a << 8 | Integer.parseInt(octet);
        }
        return a;
    }

    private static String alias(String port) {
        try {
            return Files.readString(SYS_CLASS_NET.resolve(port).resolve("ifalias"), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return "";
        }
    }

    private static void disableIpv6(String link) {
        Path setting = IPV6_CONF.resolve(link).resolve("disable_ipv6");
        try {
            if (Files.exists(setting)) {
                Files.writeString(setting, "1");
            }
        } catch (IOException e) {
            throw new NetworkException(Reason.FAILED, "cannot switch IPv6 off on " + link + ": " + e.getMessage(), e);
        }
    }

    private void requireAvailable() {
        if (unavailable.isPresent()) {
            throw new NetworkException(Reason.UNAVAILABLE, "virtual switches are not available on this host: "
                    + unavailable.get());
        }
    }

    private static void checkId(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new NetworkException(Reason.INVALID, "id " + ID_RULE);
        }
    }

    private static NetworkException notFound(String id) {
        return new NetworkException(Reason.NOT_FOUND, "there is no virtual switch '" + id + "' on this host");
    }
}
