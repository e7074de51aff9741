package io.hypervise.bench.checkpoint;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Checkpoints of a running guest (memory and disk, qcow2 internal snapshots) through Hypervise's API against
 * the same QMP snapshot jobs sent by hand to a bare {@code qemu-system-x86_64} running the same guest. Both
 * guests, idle tiny-linux of 256 MiB with a 64 MiB qcow2 disk, run side by side the whole time; each round
 * takes a checkpoint, applies it and deletes it on each, taking turns at going first, with a pause before each. Needs a running server
 * ({@code bin/hypervise up}) that has built the tiny-linux template (its demo VM does on first start).
 */
public final class CheckpointBench {

    static final String READY = "HYPERVISE-READY";
    private static final int MEMORY_MIB = 256;
    private static final int DISK_MIB = 64;
    /**
     * A guest whose memory was just loaded burns about 0.15 s of CPU as it resumes: on two cores that slowed
     * whatever the other side did next, so each side starts after a pause.
     */
    private static final Duration SETTLE = Duration.ofSeconds(1);

    private enum Operation {
        TAKE("take (memory and disk)"),
        APPLY("apply (stop, load, cont)"),
        DELETE("delete");

        final String label;

        Operation(String label) {
            this.label = label;
        }
    }

    private CheckpointBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        URI server = URI.create(System.getenv().getOrDefault("HYPERVISE_URL", "http://localhost:8080"));
        String realm = System.getenv().getOrDefault("HYPERVISE_REALM_URL", "http://127.0.0.1:8180/realms/hypervise");
        Path data = Path.of(System.getenv().getOrDefault("HYPERVISE_DATA_DIR", "data"));
        TinyLinux template = TinyLinux.in(data.resolve("storage"));
        ServerApi api = new ServerApi(server, realm);
        Map<Operation, List<HyperviseGuest.Timing>> hypervise = new EnumMap<>(Operation.class);
        Map<Operation, List<BareGuest.Timing>> bare = new EnumMap<>(Operation.class);
        for (Operation o : Operation.values()) {
            hypervise.put(o, new ArrayList<>());
            bare.put(o, new ArrayList<>());
        }
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "hvcp"); // short: it holds the QMP socket
        try (HyperviseGuest hv = HyperviseGuest.boot(api, "bench checkpoint", MEMORY_MIB, DISK_MIB);
                BareGuest qemu = BareGuest.boot(template, dir, MEMORY_MIB, DISK_MIB)) {
            long worker = hv.workerPid();
            System.out.printf(Locale.ROOT, "checkpoint bench: %d rounds; Hypervise VM %s (worker %d, RSS %d MiB), bare QEMU %d"
                    + " (RSS %d MiB, in %s)%n", rounds, hv.id(), worker, rssMib(worker), qemu.pid(), rssMib(qemu.pid()), dir);
            for (int round = 0; round < rounds; round++) {
                boolean first = round == 0;
                String name = "bench-" + round;
                Step throughHypervise = () -> {
                    hypervise.get(Operation.TAKE).add(hv.take(name));
                    hypervise.get(Operation.APPLY).add(hv.apply(name));
                    if (first) {
                        System.out.printf(Locale.ROOT, "Hypervise's first checkpoint: %.1f MiB added to the disk file%n",
                                hv.sizeBytes(name) / 1048576.0);
                    }
                    hypervise.get(Operation.DELETE).add(hv.delete(name));
                };
                Step byHand = () -> {
                    bare.get(Operation.TAKE).add(qemu.take(name));
                    bare.get(Operation.APPLY).add(qemu.apply(name));
                    if (first) {
                        System.out.print("bare QEMU's first snapshot (qemu-img snapshot -l):\n" + qemu.snapshotTable());
                    }
                    bare.get(Operation.DELETE).add(qemu.delete(name));
                };
                Step firstSide = round % 2 == 0 ? throughHypervise : byHand;
                Step secondSide = round % 2 == 0 ? byHand : throughHypervise;
                TimeUnit.MILLISECONDS.sleep(SETTLE.toMillis());
                firstSide.run();
                TimeUnit.MILLISECONDS.sleep(SETTLE.toMillis());
                secondSide.run();
                System.out.printf(Locale.ROOT, "round %d done; RSS of the Hypervise worker %d MiB, of bare QEMU %d MiB%n", round + 1,
                        rssMib(worker), rssMib(qemu.pid()));
            }
        } finally {
            new ProcessBuilder("rm", "-rf", dir.toString()).inheritIO().start().waitFor();
        }
        System.out.println();
        System.out.println("| checkpoint of an idle 256 MiB guest (TCG) | Hypervise s, each round | QEMU by hand s, each round"
                + " | ratio (mean / mean) |");
        System.out.println("| --- | --- | --- | --- |");
        for (Operation o : Operation.values()) {
            List<Double> h = hypervise.get(o).stream().map(HyperviseGuest.Timing::seconds).toList();
            List<Double> b = bare.get(o).stream().map(BareGuest.Timing::seconds).toList();
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %.2f |%n", o.label, list(h), list(b), mean(h) / mean(b));
        }
        System.out.println();
        System.out.println("| round | operation | Hypervise: 202 after | its job, as the server recorded it | request to succeeded"
                + " seen | by hand | by hand, guest stopped |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- |");
        for (int round = 0; round < rounds; round++) {
            for (Operation o : Operation.values()) {
                HyperviseGuest.Timing h = hypervise.get(o).get(round);
                BareGuest.Timing b = bare.get(o).get(round);
                System.out.printf(Locale.ROOT, "| %d | %s | %.3f | %.3f | %.3f | %.3f | %.3f |%n", round + 1, o.name().toLowerCase(Locale.ROOT),
                        h.accepted(), h.job(), h.seconds(), b.seconds(), b.stopped());
            }
        }
    }

    private static long rssMib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
            }
        }
        throw new IOException("no VmRSS in /proc/" + pid + "/status");
    }

    private static double mean(List<Double> values) {
        return values.stream().mapToDouble(d -> d).average().orElseThrow();
    }

    private static String list(List<Double> values) {
        return values.stream().map(v -> String.format(Locale.ROOT, "%.2f", v)).collect(Collectors.joining(", "))
                + String.format(Locale.ROOT, " (mean %.2f)", mean(values));
    }

    private interface Step {
        void run() throws Exception;
    }
}
