package io.hypervise.engine.network;

import com.fasterxml.jackson.databind.JsonNode;
import io.hypervise.engine.network.NetworkException.Reason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Bandwidth limits on switch ports, with Linux traffic control on each port's tap device. What a VM receives
 * leaves the bridge through its tap (the tap's egress): a token bucket filter (tbf) there holds it to the limit,
 * queueing a little and dropping the rest, as a slower link would. What a VM sends enters the host through its
 * tap (the tap's ingress), where the kernel cannot queue, only police: an ingress qdisc whose u32 filter drops
 * what is over the limit, which needs the kernel's tc actions (act_police). Kernels built without them, as on
 * the machines Hypervise is tested on, cannot limit what VMs send; {@link #probe} finds that out once, on a tap
 * of its own, and keeps the kernel's words for the reason.
 *
 * <p>See tc-tbf(8), tc-u32(8) and tc-police(8).
 */
final class PortLimits {

    /** The most a tbf queue holds, in time at its rate: enough for TCP to keep the link busy, not a bufferbloat. */
    private static final String QUEUE_LATENCY = "50ms";
    /**
     * The largest packet the policer lets through whole: a guest whose adapter offloads segmentation hands the
     * tap frames of up to 64 KiB, which a policer's default MTU (2 KiB) would drop every one of.
     */
    private static final String POLICE_MTU = "64kb";
    private static final long MIN_BURST_BYTES = 16 * 1024;
    private static final String INGRESS = "ffff:";
    private static final AtomicInteger PROBES = new AtomicInteger();
    private static final String PROBE_PREFIX = "hvp";
    private static final Pattern PROBE = Pattern.compile("hvp[0-9a-f]{1,8}-[0-9a-f]{1,6}");

    private final IpCommand tc;
    private final Optional<String> receiveUnavailable;
    private final Optional<String> transmitUnavailable;

    private PortLimits(IpCommand tc, Optional<String> receiveUnavailable, Optional<String> transmitUnavailable) {
        this.tc = tc;
        this.receiveUnavailable = receiveUnavailable;
        this.transmitUnavailable = transmitUnavailable;
    }

    /**
     * Tries both limits on a tap device made for the purpose and removed at once, so that a VM is refused a limit
     * this kernel cannot enforce rather than started without it.
     *
     * @param switchesUnavailable why this host cannot have switch ports at all, if it cannot
     */
    static PortLimits probe(IpCommand ip, Optional<String> switchesUnavailable) {
        IpCommand tc = new IpCommand("tc");
        if (switchesUnavailable.isPresent()) {
            Optional<String> why = Optional.of("virtual switches are not available on this host (" + switchesUnavailable.get()
                    + "), and only switch ports can be limited");
            return new PortLimits(tc, why, why);
        }
        try {
            tc.run("-V");
        } catch (NetworkException e) {
            Optional<String> why = Optional.of("iproute2's tc command is missing (apt-get install iproute2): " + e.getMessage());
            return new PortLimits(tc, why, why);
        }
        removeOrphanedProbes(ip);
        // "hvp" + this process's PID + "-" + a count, all hex: at most 3 + 6 + 1 + 5 bytes, unique among engines.
        String name = PROBE_PREFIX + Long.toHexString(ProcessHandle.current().pid()) + "-" + Integer.toHexString(PROBES.getAndIncrement());
        String tap = name.substring(0, Math.min(name.length(), 15));
        try {
            ip.run("tuntap", "add", "dev", tap, "mode", "tap");
        } catch (NetworkException e) {
            Optional<String> why = Optional.of("a tap device to try traffic control on could not be made: " + e.getMessage());
            return new PortLimits(tc, why, why);
        }
        try {
            Optional<String> receive = refusal(() -> tc.run(receiveLimit(tap, 1_000_000, "add")),
                    "the kernel refused a token bucket filter on a tap device (tc-tbf: sch_tbf, CONFIG_NET_SCH_TBF)");
            Optional<String> transmit = refusal(() -> {
                tc.run("qdisc", "add", "dev", tap, "handle", INGRESS, "ingress");
                tc.run(transmitFilter(tap, 1_000_000));
            }, "the kernel cannot police what enters a tap device (an ingress u32 filter with a police action needs"
                    + " act_police and cls_u32), nor, without tc actions, redirect it to a device that could queue it;"
                    + " only what VMs receive can be limited here");
            return new PortLimits(tc, receive, transmit);
        } finally {
            try {
                ip.run("link", "delete", "dev", tap);
            } catch (NetworkException e) {
                Logger.getLogger(PortLimits.class.getName()).warning(
                        "the probe's tap device " + tap + " could not be removed: " + e.getMessage());
            }
        }
    }

    /** Removes the probe taps of processes that are gone (one killed while it probed), never another's that runs. */
    private static void removeOrphanedProbes(IpCommand ip) {
        try (Stream<Path> links = Files.list(PortCounters.SYS_CLASS_NET)) {
            for (String link : links.map(l -> l.getFileName().toString()).filter(l -> PROBE.matcher(l).matches()).toList()) {
                long pid = Long.parseLong(link.substring(PROBE_PREFIX.length(), link.indexOf('-')), 16);
                if (ProcessHandle.of(pid).isEmpty()) {
                    ip.run("link", "delete", "dev", link);
                }
            }
        } catch (IOException | NetworkException | NumberFormatException e) {
            Logger.getLogger(PortLimits.class.getName()).warning("orphaned probe taps could not be removed: " + e.getMessage());
        }
    }

    /** Why a limit on what VMs receive cannot be enforced here; empty when it can. */
    Optional<String> receiveUnavailable() {
        return receiveUnavailable;
    }

    /** Why a limit on what VMs send cannot be enforced here; empty when it can. */
    Optional<String> transmitUnavailable() {
        return transmitUnavailable;
    }

    /**
     * Sets the tap's limits to these, in bits per second: null lifts one. A limit already there is replaced in
     * place for what the VM receives; what it sends has its policer removed and made again (the kernel has no
     * replace for a filter made without a handle), unpoliced for that moment.
     */
    void apply(String tap, Long receiveBitsPerSecond, Long transmitBitsPerSecond) {
        if (receiveBitsPerSecond != null && receiveUnavailable.isPresent()) {
            throw new NetworkException(Reason.UNAVAILABLE, "this host cannot limit what a VM receives: " + receiveUnavailable.get());
        }
        if (transmitBitsPerSecond != null && transmitUnavailable.isPresent()) {
            throw new NetworkException(Reason.UNAVAILABLE, "this host cannot limit what a VM sends: " + transmitUnavailable.get());
        }
        boolean bucket = false;
        boolean ingress = false;
        for (JsonNode qdisc : tc.json("qdisc", "show", "dev", tap)) {
            bucket |= qdisc.path("root").asBoolean() && qdisc.path("kind").asText().equals("tbf");
            ingress |= qdisc.path("kind").asText().equals("ingress");
        }
        if (receiveBitsPerSecond != null) {
            tc.run(receiveLimit(tap, receiveBitsPerSecond, "replace"));
        } else if (bucket) {
            tc.run("qdisc", "del", "dev", tap, "root");
        }
        if (ingress) {
            tc.run("qdisc", "del", "dev", tap, "ingress");
        }
        if (transmitBitsPerSecond != null) {
            tc.run("qdisc", "add", "dev", tap, "handle", INGRESS, "ingress");
            tc.run(transmitFilter(tap, transmitBitsPerSecond));
        }
    }

    /** A bucket of 10 ms at the rate, or 16 KiB where that is less: whole frames, and little burst at low rates. */
    static long receiveBurstBytes(long bitsPerSecond) {
        return Math.max(MIN_BURST_BYTES, bitsPerSecond / 8 / 100);
    }

    /** A policer has no queue to smooth a burst, so it allows more of one: 50 ms at the rate, at least 16 KiB. */
    static long transmitBurstBytes(long bitsPerSecond) {
        return Math.max(MIN_BURST_BYTES, bitsPerSecond / 8 / 20);
    }

    private static String[] receiveLimit(String tap, long bitsPerSecond, String verb) {
        return new String[] {"qdisc", verb, "dev", tap, "root", "tbf", "rate", bitsPerSecond + "bit",
                "burst", Long.toString(receiveBurstBytes(bitsPerSecond)), "latency", QUEUE_LATENCY};
    }

    private static String[] transmitFilter(String tap, long bitsPerSecond) {
        return new String[] {"filter", "add", "dev", tap, "parent", INGRESS, "protocol", "all", "prio", "1", "u32",
                "match", "u32", "0", "0", "police", "rate", bitsPerSecond + "bit",
                "burst", Long.toString(transmitBurstBytes(bitsPerSecond)), "mtu", POLICE_MTU, "drop"};
    }

    /** Empty if {@code attempt} worked, else {@code why} with what tc said. */
    private static Optional<String> refusal(Runnable attempt, String why) {
        try {
            attempt.run();
            return Optional.empty();
        } catch (NetworkException e) {
            // tc's first line is the kernel's answer; the next ("We have an error talking to the kernel") says nothing more.
            String said = e.getMessage().replaceFirst("(?s)^.*? failed: ", "").lines().findFirst().orElse("").strip();
            return Optional.of(why + " (tc: " + said + ")");
        }
    }
}
