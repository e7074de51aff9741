package io.hypervise.engine.vm.worker;

import io.hypervise.engine.vm.definition.ResourceSupport;
import io.hypervise.engine.vm.definition.Resources;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One control group per worker, made and removed by the engine, holding the QEMU process and every thread
 * and child it makes; the server process stays outside them. It enforces a VM's CPU weight and cap and its
 * memory reservation. Where this host's kernel offers no controller for one of them, {@link #cpuUnavailable}
 * and {@link #memoryReservationUnavailable} say why, and a VM asking for it is refused rather than started
 * without it.
 *
 * <p>cgroup v2 is preferred (cpu.weight, cpu.max, memory.low). A host whose v2 hierarchy lacks the cpu
 * controller but mounts cgroup v1's (older distributions, many containers) gets the same CPU control from
 * v1 (cpu.shares, cpu.cfs_quota_us); v1 has nothing like memory.low, so no reservation there.
 *
 * <p>The groups live under {@code hypervise-<engine>} in the server's own group, {@code <engine>} naming this
 * engine's state directory, so that two engines on one machine never share or remove each other's.
 */
public final class WorkerCgroups {

    private static final Logger LOG = Logger.getLogger(WorkerCgroups.class.getName());
    private static final long PERIOD_US = 100_000;

    /** How a hierarchy is driven: which files mean what. */
    enum Flavour { V2, V1 }

    private final Path cpuGroups;
    private final Flavour cpuFlavour;
    private final String cpuUnavailable;
    private final Path memoryGroups;
    private final String memoryUnavailable;

    WorkerCgroups(Path cpuGroups, Flavour cpuFlavour, String cpuUnavailable, Path memoryGroups, String memoryUnavailable) {
        this.cpuGroups = cpuGroups;
        this.cpuFlavour = cpuFlavour;
        this.cpuUnavailable = cpuUnavailable;
        this.memoryGroups = memoryGroups;
        this.memoryUnavailable = memoryUnavailable;
    }

    /** What this host offers, from /proc/self/mountinfo and /proc/self/cgroup; the engine's groups live in {@code stateDir}'s name. */
    public static WorkerCgroups probe(Path stateDir) {
        try {
            return probe(Files.readAllLines(Path.of("/proc/self/mountinfo")), Files.readAllLines(Path.of("/proc/self/cgroup")),
                    "hypervise-" + shortHash(stateDir.toAbsolutePath().normalize().toString()));
        } catch (IOException e) {
            String why = "the engine cannot read its own cgroups (" + e.getMessage() + ")";
            return new WorkerCgroups(null, null, why, null, why);
        }
    }

    static WorkerCgroups probe(List<String> mountinfo, List<String> selfCgroup, String group) {
        Optional<Path> unified = mountinfo.stream().map(l -> l.split(" - ", 2)).filter(p -> p.length == 2)
                .filter(p -> p[1].startsWith("cgroup2 ")).map(p -> Path.of(p[0].split(" ")[4])).findFirst();
        String ownV2 = selfCgroup.stream().filter(l -> l.startsWith("0::")).map(l -> l.substring(3)).findFirst().orElse("/");
        Optional<Path> v2Own = unified.map(m -> m.resolve(ownV2.substring(1)));
        Set<String> v2Controllers = v2Own.map(WorkerCgroups::controllers).orElse(Set.of());

        Path cpuGroups = null;
        Flavour cpuFlavour = null;
        String cpuUnavailable;
        String v2Says = unified.isEmpty() ? "no cgroup v2 hierarchy is mounted"
                : "cgroup v2 at " + unified.get() + " offers " + (v2Controllers.isEmpty() ? "no controllers"
                        : "only " + String.join(", ", v2Controllers.stream().sorted().toList())) + " to this server";
        if (v2Controllers.contains("cpu")) {
            Optional<String> refused = delegate(v2Own.get(), group, "cpu");
            cpuGroups = v2Own.get().resolve(group);
            cpuFlavour = Flavour.V2;
            cpuUnavailable = refused.orElse(null);
        } else {
            Optional<Path[]> v1 = v1Hierarchy(mountinfo, selfCgroup, "cpu");
            if (v1.isPresent() && Files.isWritable(v1.get()[1])) {
                cpuGroups = v1.get()[1].resolve(group);
                cpuFlavour = Flavour.V1;
                cpuUnavailable = null;
            } else {
                cpuUnavailable = v2Says + (v1.isPresent() ? ", and cgroup v1's cpu hierarchy at " + v1.get()[1]
                        + " is not writable by it" : ", and no cgroup v1 cpu hierarchy is mounted")
                        + "; run the server where it may manage cgroups (systemd: Delegate=yes)";
            }
        }
        Path memoryGroups = null;
        String memoryUnavailable;
        if (v2Controllers.contains("memory")) {
            Optional<String> refused = delegate(v2Own.get(), group, "memory");
            memoryGroups = v2Own.get().resolve(group);
            memoryUnavailable = refused.orElse(null);
        } else {
            memoryUnavailable = v2Says + "; a memory reservation needs cgroup v2's memory controller (memory.low),"
                    + " which cgroup v1 has no equivalent of";
        }
        return new WorkerCgroups(cpuGroups, cpuFlavour, cpuUnavailable, memoryGroups, memoryUnavailable);
    }

    /** Why CPU weight and cap cannot be enforced on this host; empty when they can. */
    public Optional<String> cpuUnavailable() {
        return Optional.ofNullable(cpuUnavailable);
    }

    /** Why a memory reservation cannot be kept on this host; empty when it can. */
    public Optional<String> memoryReservationUnavailable() {
        return Optional.ofNullable(memoryUnavailable);
    }

    /** What a VM may ask of this host, for the definition's validator. */
    public ResourceSupport support() {
        return new ResourceSupport(cpuUnavailable(), memoryReservationUnavailable());
    }

    /** Which cgroup version drives CPU control here: "v2", "v1", or empty. */
    public Optional<String> cpuVersion() {
        return cpuUnavailable == null ? Optional.of(cpuFlavour == Flavour.V2 ? "v2" : "v1") : Optional.empty();
    }

    /** The group that holds the VM's worker (for CPU), whether or not it exists now. */
    public Optional<Path> cpuGroup(String vmId) {
        return cpuUnavailable == null ? Optional.of(cpuGroups.resolve(vmId)) : Optional.empty();
    }

    /**
     * Puts the worker {@code pid} (all its threads) in the VM's group, made if it is not there yet, and sets the
     * group's CPU weight and cap and memory reservation to {@code resources}: at launch, before the guest runs,
     * and again whenever they change. Controls this host cannot enforce are left out; the caller refused them.
     */
    public synchronized void apply(String vmId, long pid, int vcpus, Resources resources) throws IOException {
        if (cpuUnavailable == null) {
            own(cpuGroups, "cpu", cpuFlavour == Flavour.V2);
            Path dir = cpuGroups.resolve(vmId);
            Files.createDirectories(dir);
            int weight = resources.cpuWeight() == null ? Resources.DEFAULT_CPU_WEIGHT : resources.cpuWeight();
            Long quota = resources.cpuCapPercent() == null ? null : Math.max(1000, PERIOD_US * vcpus * resources.cpuCapPercent() / 100);
            if (cpuFlavour == Flavour.V2) {
                write(dir.resolve("cpu.weight"), Integer.toString(weight));
                write(dir.resolve("cpu.max"), (quota == null ? "max" : quota.toString()) + " " + PERIOD_US);
            } else {
                // v1's shares: 1024 is the default, as 100 is v2's weight.
                write(dir.resolve("cpu.shares"), Long.toString(Math.max(2, weight * 1024L / Resources.DEFAULT_CPU_WEIGHT)));
                write(dir.resolve("cpu.cfs_period_us"), Long.toString(PERIOD_US));
                write(dir.resolve("cpu.cfs_quota_us"), quota == null ? "-1" : quota.toString());
            }
            write(dir.resolve("cgroup.procs"), Long.toString(pid));
        }
        if (memoryUnavailable == null) {
            own(memoryGroups, "memory", true);
            Path dir = memoryGroups.resolve(vmId);
            Files.createDirectories(dir);
            long low = resources.memoryReservationMib() == null ? 0 : (long) resources.memoryReservationMib() << 20;
            write(dir.resolve("memory.low"), Long.toString(low));
            write(dir.resolve("cgroup.procs"), Long.toString(pid));
        }
    }

    /**
     * Removes the VM's group once its worker is gone (a group that still holds a process stays), and the engine's
     * own group with it when that was the last: an engine whose workers are all gone leaves nothing behind.
     */
    public synchronized void remove(String vmId) {
        for (Path groups : new Path[] {cpuGroups, memoryGroups}) {
            if (groups == null) {
                continue;
            }
            try {
                Files.deleteIfExists(groups.resolve(vmId));
            } catch (IOException e) {
                LOG.log(Level.WARNING, "the cgroup of VM {0} could not be removed: {1}", new Object[] {vmId, e.getMessage()});
            }
        }
        close();
    }

    /** Makes the engine's own group if it is not there (again), handing {@code controller} down on cgroup v2. */
    private static void own(Path groups, String controller, boolean v2) throws IOException {
        if (!Files.isDirectory(groups)) {
            Files.createDirectories(groups);
        }
        if (v2) {
            enable(groups, controller);
        }
    }

    /**
     * Removes the engine's own group where no worker's group is left in it (the engine closing: its running
     * workers keep theirs, and so the engine's). Each engine's group is named by its state directory, so one
     * opened on a passing directory (a test's) leaves nothing behind.
     */
    public synchronized void close() {
        for (Path groups : new Path[] {cpuGroups, memoryGroups}) {
            if (groups == null) {
                continue;
            }
            try {
                Files.deleteIfExists(groups);
            } catch (IOException e) {
                // a worker's group is still in it (or the kernel says busy): it stays, as it should
            }
        }
    }

    /** Removes the groups of workers that ended while no engine watched (those of {@code keep} stay). */
    public void removeStale(Set<String> keep) {
        for (Path groups : new Path[] {cpuGroups, memoryGroups}) {
            if (groups == null || !Files.isDirectory(groups)) {
                continue;
            }
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(groups, Files::isDirectory)) {
                for (Path dir : dirs) {
                    if (!keep.contains(dir.getFileName().toString())) {
                        remove(dir.getFileName().toString());
                    }
                }
            } catch (IOException e) {
                LOG.log(Level.WARNING, "the engine's cgroups in {0} could not be listed: {1}", new Object[] {groups, e.getMessage()});
            }
        }
    }

    /**
     * Makes the engine's group under {@code own} with {@code controller} enabled for the groups below it; empty if
     * it could, else why not (cgroup v2 lets a group with processes in it hand controllers down only at the root).
     */
    private static Optional<String> delegate(Path own, String group, String controller) {
        try {
            enable(own, controller);
            Path mine = own.resolve(group);
            Files.createDirectories(mine);
            enable(mine, controller);
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("cgroup v2's " + controller + " controller cannot be handed down from " + own + " ("
                    + e.getMessage() + "); run the server in a group of its own with controllers delegated (systemd: Delegate=yes)");
        }
    }

    private static void enable(Path group, String controller) throws IOException {
        if (!read(group.resolve("cgroup.subtree_control")).contains(controller)) {
            write(group.resolve("cgroup.subtree_control"), "+" + controller);
        }
    }

    /** The mount point and this process's own directory of the v1 hierarchy that has {@code controller}. */
    private static Optional<Path[]> v1Hierarchy(List<String> mountinfo, List<String> selfCgroup, String controller) {
        for (String line : mountinfo) {
            String[] halves = line.split(" - ", 2);
            if (halves.length != 2 || !halves[1].startsWith("cgroup ")) {
                continue;
            }
            String[] tail = halves[1].split(" ");
            if (tail.length < 3 || !List.of(tail[2].split(",")).contains(controller)) {
                continue;
            }
            Path mount = Path.of(halves[0].split(" ")[4]);
            for (String own : selfCgroup) {
                String[] parts = own.split(":", 3);
                if (parts.length == 3 && List.of(parts[1].split(",")).contains(controller)) {
                    return Optional.of(new Path[] {mount, mount.resolve(parts[2].substring(1))});
                }
            }
        }
        return Optional.empty();
    }

    private static Set<String> controllers(Path group) {
        try {
            String text = read(group.resolve("cgroup.controllers")).trim();
            return text.isEmpty() ? Set.of() : Set.of(text.split("\\s+"));
        } catch (IOException e) {
            return Set.of();
        }
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.US_ASCII);
    }

    private static void write(Path file, String value) throws IOException {
        try {
            Files.writeString(file, value, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new IOException(file + " does not exist", e);
        } catch (IOException e) {
            throw new IOException("writing '" + value + "' to " + file + ": " + e.getMessage(), e);
        }
    }

    private static String shortHash(String text) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash, 0, 4);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
