package io.hypervise.bench.confinement;

import static io.hypervise.bench.BootBench.awaitReady;
import static io.hypervise.bench.BootBench.definition;
import static io.hypervise.bench.BootBench.kib;
import static io.hypervise.bench.BootBench.median;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.template.TinyLinuxTemplate;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.worker.WorkerJail;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Start-to-readiness of the tiny-linux guest and its worker's memory, with the worker confined (its own user,
 * mount namespace, seccomp sandbox) against the same engine with confinement off, interleaved run by run so
 * both see the same machine load. The goal is a ratio of at most 1.02.
 */
public final class ConfinementBench {

    private static final String READY = "HYPERVISE-READY";
    private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "hypervise");

    record Sample(double seconds, long rssKib, long pssKib) {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        TinyLinuxTemplate.Built template = TinyLinuxTemplate.ensure(TinyLinuxTemplate.Variant.AMD64,
                CACHE.resolve("library"), CACHE.resolve("downloads"), line -> System.out.println("[tiny-linux] " + line));
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "hvc");
        try {
            Path storage = Files.createDirectories(dir.resolve("storage"));
            Path kernel = Files.copy(template.kernel(), storage.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
            Path initrd = Files.copy(template.initramfs(), storage.resolve("initrd.img"), StandardCopyOption.REPLACE_EXISTING);
            BootSource boot = new BootSource.Kernel(kernel, initrd, template.commandLine());
            WorkerJail.Settings on = WorkerJail.Settings.defaults();
            WorkerJail.Settings off = new WorkerJail.Settings(WorkerJail.Mode.OFF, on.firstUid(), on.uids());
            List<Sample> confined = new ArrayList<>();
            List<Sample> unconfined = new ArrayList<>();
            try (Engine c = Engine.open(EngineConfig.defaults(dir.resolve("c"), storage).withConfinement(on));
                 Engine u = Engine.open(EngineConfig.defaults(dir.resolve("u"), storage).withConfinement(off))) {
                if (!c.vms().confinement().confined()) {
                    throw new IllegalStateException("this host cannot confine workers: " + c.vms().confinement().unavailable());
                }
                System.out.printf("host: %s, %d CPUs, QEMU %s, accelerator %s%n", c.host().cpuModel(), c.host().cpus(),
                        c.host().qemuVersion(), c.host().accelerator());
                for (int i = 0; i < runs; i++) {
                    confined.add(boot(c, definition("c" + i, boot)));
                    unconfined.add(boot(u, definition("u" + i, boot)));
                    System.out.printf("run %d: confined %5.2f s (RSS %d MiB)   unconfined %5.2f s (RSS %d MiB)%n", i + 1,
                            confined.getLast().seconds(), confined.getLast().rssKib() / 1024,
                            unconfined.getLast().seconds(), unconfined.getLast().rssKib() / 1024);
                }
            }
            double cs = median(confined.stream().map(Sample::seconds).toList());
            double us = median(unconfined.stream().map(Sample::seconds).toList());
            double cr = median(confined.stream().map(s -> (double) s.rssKib()).toList());
            double ur = median(unconfined.stream().map(s -> (double) s.rssKib()).toList());
            System.out.println();
            System.out.printf("start -> %s, median of %d runs:%n", READY, runs);
            System.out.printf("  confined     %6.2f s   worker RSS %6.1f MiB%n", cs, cr / 1024);
            System.out.printf("  unconfined   %6.2f s   worker RSS %6.1f MiB%n", us, ur / 1024);
            System.out.printf("  ratio        %6.3f     RSS ratio %.3f%n", cs / us, cr / ur);
        } finally {
            FileTrees.delete(dir);
        }
    }

    private static Sample boot(Engine engine, VmDefinition def) throws Exception {
        engine.vms().define(def);
        Path serial = engine.vms().serialLog(def.id());
        long t0 = System.nanoTime();
        engine.vms().start(def.id());
        awaitReady(serial);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long pid = engine.vms().status(def.id()).workerPid().orElseThrow();
        Sample sample = new Sample(seconds, kib(Path.of("/proc", Long.toString(pid), "status"), "VmRSS:"),
                kib(Path.of("/proc", Long.toString(pid), "smaps_rollup"), "Pss:"));
        engine.vms().turnOff(def.id());
        engine.vms().delete(def.id());
        return sample;
    }
}
