package io.hypervise.engine.counters;

import io.hypervise.engine.counters.VmSample.DiskSample;
import io.hypervise.engine.counters.VmSample.GuestMemory;
import io.hypervise.engine.counters.VmSample.NicSample;
import io.hypervise.engine.host.ProcessStat;
import io.hypervise.engine.network.PortCounters;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.qmp.QemuMonitor.BlockStats;
import io.hypervise.engine.qmp.QemuMonitor;
import io.hypervise.engine.qmp.QmpException;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.worker.QemuCommandLine;
import io.hypervise.engine.vm.worker.RunningWorker;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Reads one worker's counters: CPU from /proc (the process, and each vCPU's thread as QEMU names
 * them), memory from /proc and the virtio balloon's guest statistics, disks from QEMU's block
 * statistics, network adapters from their switch ports' kernel counters. Keeps the previous reading, so that each new one yields rates.
 * One probe per worker process: a restarted VM gets a new one. Only queries; never changes the VM.
 */
final class WorkerProbe {

    private final RunningWorker worker;
    private final QemuMonitor monitor;
    private final long balloonPollSeconds;
    private boolean balloonPolling;
    private WorkerReading previous;

    WorkerProbe(RunningWorker worker, Duration timeout, Duration period) {
        this.worker = worker;
        this.monitor = QemuMonitor.over(worker.qmp(), timeout);
        this.balloonPollSeconds = Math.max(1, period.toSeconds());
    }

    boolean isFor(RunningWorker w) {
        return w.pid() == worker.pid() && w.startTicks() == worker.startTicks();
    }

    /**
     * Reads the worker now; the sample since the previous reading, or empty for the first reading of a
     * worker, or when the process is no longer the worker (it ended, or its PID was reused).
     */
    Optional<VmSample> sample(Instant at) throws QmpException, InterruptedException {
        Optional<WorkerReading> read = read();
        if (read.isEmpty()) {
            return Optional.empty();
        }
        WorkerReading now = read.get();
        WorkerReading before = previous;
        previous = now;
        if (before == null || now.nanoTime() <= before.nanoTime()) {
            return Optional.empty();
        }
        return Optional.of(rates(before, now, at));
    }

    private Optional<WorkerReading> read() throws QmpException, InterruptedException {
        long pid = worker.pid();
        Optional<ProcessStat> process = ProcessStat.ofProcess(pid);
        if (process.isEmpty() || process.get().startTicks() != worker.startTicks()) {
            return Optional.empty(); // never read counters of a process we have not confirmed is this worker
        }
        // Asked each time: vCPUs come and go while a VM runs.
        List<Long> vcpuThreads = monitor.vcpuThreads();
        List<Long> vcpuTicks = new ArrayList<>();
        for (long tid : vcpuThreads) {
            vcpuTicks.add(ProcessStat.ofThread(pid, tid).map(ProcessStat::cpuTicks).orElse(0L));
        }
        OptionalLong resident = residentBytes(pid);
        if (resident.isEmpty()) {
            return Optional.empty();
        }
        Map<String, BlockStats> disks = monitor.blockStats();
        Optional<GuestMemory> guest = guestMemory();
        List<Optional<PortCounters>> nics = new ArrayList<>();
        List<Nic> defined = worker.definition().nics();
        for (int i = 0; i < defined.size(); i++) {
            nics.add(defined.get(i).onSwitch() ? PortCounters.of(VirtualSwitches.portName(worker.vmId(), defined.get(i).slot(i))) : Optional.empty());
        }
        long nanoTime = System.nanoTime();
        return Optional.of(new WorkerReading(nanoTime, process.get().cpuTicks(), vcpuTicks, resident.getAsLong(), guest,
                disks, nics));
    }

    private VmSample rates(WorkerReading before, WorkerReading now, Instant at) {
        double seconds = (now.nanoTime() - before.nanoTime()) / 1e9;
        double cpu = ticksToCores(now.processTicks() - before.processTicks(), seconds);
        List<Double> vcpus = new ArrayList<>();
        for (int i = 0; i < now.vcpuTicks().size(); i++) {
            long was = i < before.vcpuTicks().size() ? before.vcpuTicks().get(i) : now.vcpuTicks().get(i);
            vcpus.add(ticksToCores(now.vcpuTicks().get(i) - was, seconds));
        }
        List<DiskSample> disks = new ArrayList<>();
        now.disks().forEach((name, c) -> {
            BlockStats b = before.disks().getOrDefault(name, c);
            disks.add(new DiskSample(name, perSecond(c.readBytes() - b.readBytes(), seconds),
                    perSecond(c.writeBytes() - b.writeBytes(), seconds), perSecond(c.readOps() - b.readOps(), seconds),
                    perSecond(c.writeOps() - b.writeOps(), seconds)));
        });
        List<NicSample> nics = new ArrayList<>();
        List<Nic> defined = worker.definition().nics();
        for (int i = 0; i < defined.size(); i++) {
            Optional<PortCounters> was = i < before.nics().size() ? before.nics().get(i) : Optional.empty();
            Optional<PortCounters> is = i < now.nics().size() ? now.nics().get(i) : Optional.empty();
            nics.add(nicSample("net" + i, defined.get(i), was, is, seconds));
        }
        return new VmSample(worker.vmId(), at, Duration.ofNanos(now.nanoTime() - before.nanoTime()), cpu, vcpus,
                now.residentBytes(), now.guestMemory(), disks, nics);
    }

    private static NicSample nicSample(String name, Nic nic, Optional<PortCounters> was, Optional<PortCounters> is,
            double seconds) {
        Optional<String> uncounted = NicSample.uncounted(nic);
        if (uncounted.isPresent()) {
            return new NicSample(name, nic.mac(), Optional.empty(), uncounted);
        }
        if (was.isEmpty() || is.isEmpty()) {
            return new NicSample(name, nic.mac(), Optional.empty(), Optional.of(NicSample.NO_PORT));
        }
        PortCounters a = was.get();
        PortCounters b = is.get();
        return new NicSample(name, nic.mac(), Optional.of(new NicSample.Rates(
                perSecond(b.receiveBytes() - a.receiveBytes(), seconds), perSecond(b.transmitBytes() - a.transmitBytes(), seconds),
                perSecond(b.receivePackets() - a.receivePackets(), seconds),
                perSecond(b.transmitPackets() - a.transmitPackets(), seconds))), Optional.empty());
    }

    private static double ticksToCores(long ticks, double seconds) {
        return Math.max(0, ticks) / (double) ProcessStat.TICKS_PER_SECOND / seconds;
    }

    private static double perSecond(long delta, double seconds) {
        return Math.max(0, delta) / seconds; // a counter never goes back within one worker
    }

    /**
     * The guest's memory from the balloon's statistics; empty without a balloon (legacy profile) or
     * while the guest has reported nothing (no driver, or not yet). Polling is switched on at the
     * first reading of a worker.
     */
    private Optional<GuestMemory> guestMemory() throws QmpException, InterruptedException {
        if (worker.definition().profile() != DeviceProfile.ENLIGHTENED) {
            return Optional.empty();
        }
        if (!balloonPolling) {
            monitor.pollBalloonStats(QemuCommandLine.BALLOON_ID, balloonPollSeconds);
            balloonPolling = true;
        }
        return monitor.balloonStats(QemuCommandLine.BALLOON_ID).map(b -> new GuestMemory(b.totalBytes(), b.availableBytes()));
    }

    /** VmRSS from /proc/PID/status, in bytes. */
    static OptionalLong residentBytes(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.US_ASCII)) {
                if (line.startsWith("VmRSS:")) {
                    return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
                }
            }
            return OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }
}
