package io.hypervise.bench.hotplug;

import io.hypervise.bench.checkpoint.BareGuest;
import io.hypervise.bench.checkpoint.HyperviseGuest;
import io.hypervise.bench.checkpoint.ServerApi;
import io.hypervise.bench.checkpoint.TinyLinux;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Hot-adding a disk to a running guest, from the request until the guest sees it, and removing it again
 * until the guest sees it gone: through Hypervise's API against the same QMP commands sent by hand to a bare
 * {@code qemu-system-x86_64} with the same empty PCI Express root ports. Both guests, idle enlightened
 * tiny-linux of 256 MiB, run side by side the whole time; each round adds and removes a blank 64 MiB qcow2
 * disk on each, taking turns at going first. The guest looks for new and gone disks once a second, which
 * dominates both sides: each operation starts after a pause of 1 s plus a random part of a second (the same
 * seeded sequence every run), so that it falls anywhere in the guest's second. Without it a removal started
 * right after the guest's check that printed the addition, and both sides' removals took exactly one of the
 * guest's periods. Needs a running server ({@code bin/hypervise up}) that has
 * built the tiny-linux template (its demo VM does on first start).
 */
public final class HotplugBench {

    private static final int MEMORY_MIB = 256;
    /** The boot disk; smaller than the disk added, so that no line about it can be taken for the new one's. */
    private static final int BOOT_DISK_MIB = 32;
    private static final int ADDED_MIB = 64;
    /** As many as the engine gives an enlightened VM ({@code QemuCommandLine.HOTPLUG_PORTS}). */
    private static final int HOTPLUG_PORTS = 4;
    private static final Duration SETTLE = Duration.ofSeconds(1);
    /** The guest's period: how long the random part of each pause may be, in milliseconds. */
    private static final int PHASE_MS = 1000;

    private HotplugBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        URI server = URI.create(System.getenv().getOrDefault("HYPERVISE_URL", "http://localhost:8080"));
        String realm = System.getenv().getOrDefault("HYPERVISE_REALM_URL", "http://127.0.0.1:8180/realms/hypervise");
        Path data = Path.of(System.getenv().getOrDefault("HYPERVISE_DATA_DIR", "data"));
        TinyLinux template = TinyLinux.in(data.resolve("storage"));
        ServerApi api = new ServerApi(server, realm);
        Random phase = new Random(16);
        List<Cycle> hypervise = new ArrayList<>();
        List<Cycle> bare = new ArrayList<>();
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "hvhp"); // short: it holds the QMP socket
        try (HyperviseGuest vm = HyperviseGuest.boot(api, "bench hotplug", MEMORY_MIB, BOOT_DISK_MIB);
                BareGuest qemu = BareGuest.boot(template, dir, MEMORY_MIB, BOOT_DISK_MIB, HOTPLUG_PORTS)) {
            ThroughApi throughApi = new ThroughApi(api, vm);
            ByHand byHand = new ByHand(qemu, dir);
            System.out.printf(Locale.ROOT, "hotplug bench: %d rounds; Hypervise VM %s (worker %d), bare QEMU %d (in %s)%n",
                    rounds, vm.id(), vm.workerPid(), qemu.pid(), dir);
            for (int round = 0; round < rounds; round++) {
                boolean hyperviseFirst = round % 2 == 0;
                for (int turn = 0; turn < 2; turn++) {
                    TimeUnit.MILLISECONDS.sleep(SETTLE.toMillis() + phase.nextInt(PHASE_MS));
                    Duration beforeRemove = SETTLE.plusMillis(phase.nextInt(PHASE_MS));
                    if (hyperviseFirst == (turn == 0)) {
                        hypervise.add(throughApi.cycle(ADDED_MIB, beforeRemove));
                    } else {
                        bare.add(byHand.cycle(ADDED_MIB, beforeRemove));
                    }
                }
                Cycle h = hypervise.getLast();
                Cycle b = bare.getLast();
                System.out.printf(Locale.ROOT, "round %d (%s first): Hypervise %s seen after %.2f s, gone after %.2f s;"
                        + " by hand %s seen after %.2f s, gone after %.2f s%n", round + 1, hyperviseFirst ? "Hypervise" : "by hand",
                        h.disk(), h.addSeen(), h.removeSeen(), b.disk(), b.addSeen(), b.removeSeen());
            }
        } finally {
            new ProcessBuilder("rm", "-rf", dir.toString()).inheritIO().start().waitFor();
        }
        report(hypervise, bare);
    }

    private static void report(List<Cycle> hypervise, List<Cycle> bare) {
        System.out.println();
        System.out.println("| " + ADDED_MIB + " MiB qcow2 disk, idle guest (TCG) | Hypervise s, median (min–max) | QEMU by hand s,"
                + " median (min–max) | ratio of medians |");
        System.out.println("| --- | --- | --- | --- |");
        row("add: request → answered", hypervise, bare, Cycle::addAnswered);
        row("add: request → guest sees it", hypervise, bare, Cycle::addSeen);
        row("remove: request → answered", hypervise, bare, Cycle::removeAnswered);
        row("remove: request → guest sees it gone", hypervise, bare, Cycle::removeSeen);
        System.out.println();
        System.out.println("| round | first | Hypervise: add answered | seen | remove answered | gone"
                + " | by hand: add done | seen | remove done | gone |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (int i = 0; i < hypervise.size(); i++) {
            Cycle h = hypervise.get(i);
            Cycle b = bare.get(i);
            System.out.printf(Locale.ROOT, "| %d | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |%n", i + 1,
                    i % 2 == 0 ? "Hypervise" : "by hand", h.addAnswered(), h.addSeen(), h.removeAnswered(), h.removeSeen(),
                    b.addAnswered(), b.addSeen(), b.removeAnswered(), b.removeSeen());
        }
    }

    private static void row(String label, List<Cycle> hypervise, List<Cycle> bare, ToDoubleFunction<Cycle> measure) {
        double[] h = hypervise.stream().mapToDouble(measure).sorted().toArray();
        double[] b = bare.stream().mapToDouble(measure).sorted().toArray();
        System.out.printf(Locale.ROOT, "| %s | %.3f (%.3f–%.3f) | %.3f (%.3f–%.3f) | %.2f |%n", label,
                median(h), h[0], h[h.length - 1], median(b), b[0], b[b.length - 1], median(h) / median(b));
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
