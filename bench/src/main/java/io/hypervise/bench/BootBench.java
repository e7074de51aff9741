package io.hypervise.bench;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.host.Accelerator;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.template.TinyLinuxTemplate;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.worker.QemuCommandLine;
import io.hypervise.engine.vm.worker.VmFiles;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Start-to-readiness of the tiny-linux guest through the engine against the same QEMU command line
 * run bare, interleaved run by run so both see the same machine load; plus the worker's resident
 * memory and the engine's own memory per VM.
 */
public final class BootBench {

    private static final String READY = "HYPERVISE-READY";
    private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "hypervise");

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int definedVms = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        TinyLinuxTemplate.Built template = TinyLinuxTemplate.ensure(TinyLinuxTemplate.Variant.AMD64, CACHE.resolve("library"), CACHE.resolve("downloads"),
                line -> System.out.println("[tiny-linux] " + line));
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "hvb");
        try {
            Path storage = Files.createDirectories(dir.resolve("storage"));
            Path kernel = Files.copy(template.kernel(), storage.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
            Path initrd = Files.copy(template.initramfs(), storage.resolve("initrd.img"), StandardCopyOption.REPLACE_EXISTING);
            BootSource boot = new BootSource.Kernel(kernel, initrd, template.commandLine());
            run(dir, storage, boot, runs, definedVms);
        } finally {
            FileTrees.delete(dir);
        }
    }

    private static void run(Path dir, Path storage, BootSource boot, int runs, int definedVms) throws Exception {
        List<Sample> engine = new ArrayList<>();
        List<Sample> bare = new ArrayList<>();
        Accelerator accel;
        try (Engine e = Engine.open(EngineConfig.defaults(dir.resolve("state"), storage))) {
            accel = e.host().accelerator();
            System.out.printf("host: %s, %d CPUs, QEMU %s, accelerator %s%n", e.host().cpuModel(), e.host().cpus(),
                    e.host().qemuVersion(), accel);
            for (int i = 0; i < runs; i++) {
                engine.add(throughEngine(e, definition("e" + i, boot)));
                bare.add(bareQemu(e.host().qemuBinary(), accel, definition("b" + i, boot), dir.resolve("bare" + i)));
                System.out.printf("run %d: engine %5.2f s (worker RSS %d MiB)   bare %5.2f s (RSS %d MiB)%n", i + 1,
                        engine.getLast().seconds(), engine.getLast().rssKib() / 1024,
                        bare.getLast().seconds(), bare.getLast().rssKib() / 1024);
            }
        }
        double e = median(engine.stream().map(Sample::seconds).toList());
        double b = median(bare.stream().map(Sample::seconds).toList());
        long eRss = (long) median(engine.stream().map(s -> (double) s.rssKib()).toList());
        long bRss = (long) median(bare.stream().map(s -> (double) s.rssKib()).toList());
        System.out.println();
        System.out.printf("start -> %s under %s, median of %d runs:%n", READY, accel, runs);
        System.out.printf("  through the engine   %6.2f s   worker RSS %4d MiB%n", e, eRss / 1024);
        System.out.printf("  bare qemu            %6.2f s   worker RSS %4d MiB%n", b, bRss / 1024);
        System.out.printf("  ratio engine/bare    %6.3f     RSS ratio %.3f%n", e / b, (double) eRss / bRss);
        enginePerVm(dir.resolve("mem"), storage, boot, definedVms);
    }

    record Sample(double seconds, long rssKib) {
    }

    /** The VM every boot measurement starts: one vCPU, 256 MiB, enlightened, one adapter, VNC. */
    public static VmDefinition definition(String id, BootSource boot) {
        return new VmDefinition(id, id, 1, 256, DeviceProfile.ENLIGHTENED, List.of(), List.of(new Nic("52:54:00:00:00:10")),
                boot, Display.VNC);
    }

    private static Sample throughEngine(Engine engine, VmDefinition def) throws Exception {
        engine.vms().define(def);
        Path serial = engine.vms().serialLog(def.id());
        long t0 = System.nanoTime();
        engine.vms().start(def.id());
        awaitReady(serial);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long rss = rssKib(engine.vms().status(def.id()).workerPid().orElseThrow());
        engine.vms().turnOff(def.id());
        engine.vms().delete(def.id());
        return new Sample(seconds, rss);
    }

    /** The engine's own command line, minus what only supervision needs: start-paused and QMP. */
    private static Sample bareQemu(Path qemu, Accelerator accel, VmDefinition def, Path vmDir) throws Exception {
        Files.createDirectories(vmDir);
        VmFiles files = new VmFiles(vmDir);
        Files.createDirectories(files.runDir());
        List<String> argv = new ArrayList<>(new QemuCommandLine(qemu, accel).build(def, files, p -> p, false));
        argv.remove("-S");
        int qmp = argv.indexOf("-qmp");
        argv.remove(qmp);
        argv.remove(qmp);
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(vmDir.resolve("out.log").toFile()).start();
        try {
            awaitReady(files.serialLog());
            double seconds = (System.nanoTime() - t0) / 1e9;
            return new Sample(seconds, rssKib(p.pid()));
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    /** Heap the engine holds per defined VM, and threads per running VM. */
    private static void enginePerVm(Path dir, Path storage, BootSource boot, int count) throws Exception {
        try (Engine e = Engine.open(EngineConfig.defaults(dir, storage))) {
            long before = usedHeapAfterGc();
            for (int i = 0; i < count; i++) {
                e.vms().define(definition("m" + i, boot));
            }
            long after = usedHeapAfterGc();
            long platformBefore = ManagementFactory.getThreadMXBean().getThreadCount();
            e.vms().start("m0");
            long platformAfter = ManagementFactory.getThreadMXBean().getThreadCount();
            e.vms().turnOff("m0");
            System.out.println();
            System.out.printf("engine memory: %d VMs defined -> %.1f KiB of heap per VM%n", count,
                    (after - before) / 1024.0 / count);
            System.out.printf("engine threads per running VM: %d platform threads (%d in the JVM before the start)%n",
                    platformAfter - platformBefore, platformBefore);
        }
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }

    /** Waits (up to 2 minutes) for the guest's readiness line in its serial log. */
    public static void awaitReady(Path serial) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (Files.exists(serial) && Files.readString(serial, StandardCharsets.ISO_8859_1).contains(READY)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new IllegalStateException("no " + READY + " in " + serial + " within 120 s");
    }

    private static long rssKib(long pid) throws IOException {
        return kib(Path.of("/proc", Long.toString(pid), "status"), "VmRSS:");
    }

    /** The KiB a /proc file gives on its line starting with {@code key} ("VmRSS:", "Pss:"); 0 without one. */
    public static long kib(Path file, String key) throws IOException {
        for (String line : Files.readAllLines(file)) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    public static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

}
