package io.hypervise.engine.counters;

import io.hypervise.engine.host.HostLoad;
import io.hypervise.engine.qmp.QmpException;
import io.hypervise.engine.vm.Vms;
import io.hypervise.engine.vm.worker.RunningWorker;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Samples every running VM, and the host, once a period, and hands each sample to its listeners. Stores
 * nothing: what becomes of a sample is the listeners' business.
 *
 * <p>Each VM is read on a virtual thread of its own, over the engine's QMP connection to its worker
 * with a short timeout, without the VM's lock: sampling never waits for a lifecycle action and never
 * holds one up. A worker that does not answer delays only its own sample; while one of its samples is
 * still out, the next round skips it (counted in {@link #skipped()}) rather than pile up.
 */
public final class CounterSampler implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(CounterSampler.class.getName());

    private final Vms vms;
    private final Supplier<HostLoad> hostLoad;
    private final int cpus;
    private final Clock clock;
    private final Path procStat;
    private final List<Consumer<Sample>> listeners = new CopyOnWriteArrayList<>();
    private final Map<String, WorkerProbe> probes = new ConcurrentHashMap<>();
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final AtomicLong skipped = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile Duration period = Duration.ofSeconds(5);
    private volatile HostCpuTimes previousHostCpu;
    private ScheduledExecutorService timer;

    public CounterSampler(Vms vms, Supplier<HostLoad> hostLoad, int cpus, Clock clock) {
        this(vms, hostLoad, cpus, clock, Path.of("/proc/stat"));
    }

    CounterSampler(Vms vms, Supplier<HostLoad> hostLoad, int cpus, Clock clock, Path procStat) {
        this.vms = vms;
        this.hostLoad = hostLoad;
        this.cpus = cpus;
        this.clock = clock;
        this.procStat = procStat;
    }

    public void addListener(Consumer<Sample> listener) {
        listeners.add(listener);
    }

    /** Samples every {@code period} from now on, on a daemon thread of its own; once. */
    public synchronized void start(Duration period) {
        if (period.isNegative() || period.isZero()) {
            throw new IllegalArgumentException("the sampling period must be positive; got " + period);
        }
        if (timer != null) {
            throw new IllegalStateException("the sampler is already started");
        }
        this.period = period;
        ThreadFactory daemon = r -> Thread.ofPlatform().daemon().name("counter-sampler").unstarted(r);
        timer = Executors.newSingleThreadScheduledExecutor(daemon);
        timer.scheduleAtFixedRate(this::round, 0, period.toMillis(), TimeUnit.MILLISECONDS);
        LOG.log(Level.INFO, "sampling counters every {0}", period);
    }

    public Duration period() {
        return period;
    }

    /** VM samples skipped because the VM's previous one was still waiting for its worker. */
    public long skipped() {
        return skipped.get();
    }

    /** VM samples that failed (a QMP command timed out or failed). */
    public long failed() {
        return failed.get();
    }

    /**
     * One round: starts reading every running VM (each on a virtual thread) and samples the host.
     * Returns the threads, so a caller that wants the round finished (a test, a benchmark) can join them.
     */
    public List<Thread> round() {
        List<Thread> started = new ArrayList<>();
        try {
            List<RunningWorker> running = vms.runningWorkers();
            Set<String> ids = running.stream().map(RunningWorker::vmId).collect(Collectors.toSet());
            probes.keySet().retainAll(ids);
            for (RunningWorker worker : running) {
                if (!inFlight.add(worker.vmId())) {
                    skipped.incrementAndGet();
                    continue;
                }
                started.add(Thread.ofVirtual().name("counters-" + worker.vmId()).start(() -> sampleVm(worker)));
            }
            sampleHost().ifPresent(this::publish);
        } catch (RuntimeException e) {
            // the timer must live on: a round that fails is a gap in the plots, not the end of sampling
            LOG.log(Level.WARNING, "a counter sampling round failed", e);
        }
        return started;
    }

    /** A round that has finished when it returns. */
    public void roundAndWait() throws InterruptedException {
        for (Thread t : round()) {
            t.join();
        }
    }

    private void sampleVm(RunningWorker worker) {
        try {
            WorkerProbe probe = probes.compute(worker.vmId(),
                    (id, p) -> p != null && p.isFor(worker) ? p : new WorkerProbe(worker, queryTimeout(), period));
            probe.sample(clock.instant()).ifPresent(this::publish);
        } catch (QmpException e) {
            failed.incrementAndGet();
            LOG.log(Level.DEBUG, "no sample of VM {0} this round: {1}", worker.vmId(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            failed.incrementAndGet();
            LOG.log(Level.WARNING, "sampling VM " + worker.vmId() + " failed", e);
        } finally {
            inFlight.remove(worker.vmId());
        }
    }

    /** At most the period (a sample later than the next one is useless), at least a second, at most 5 s. */
    private Duration queryTimeout() {
        long ms = Math.clamp(period.toMillis(), 1000, 5000);
        return Duration.ofMillis(ms);
    }

    synchronized Optional<HostSample> sampleHost() {
        Optional<HostCpuTimes> cpuNow = HostCpuTimes.read(procStat);
        if (cpuNow.isEmpty()) {
            return Optional.empty();
        }
        Instant at = clock.instant();
        HostCpuTimes before = previousHostCpu;
        previousHostCpu = cpuNow.get();
        if (before == null) {
            return Optional.empty();
        }
        HostLoad load = hostLoad.get();
        Duration interval = Duration.ofNanos(cpuNow.get().nanoTime() - before.nanoTime());
        return Optional.of(new HostSample(at, interval, cpus,
                cpuNow.get().busyCoresSince(before, cpus), load.memoryTotalBytes(),
                load.memoryTotalBytes() - load.memoryAvailableBytes(), load.load1(), load.load5(), load.load15(),
                load.storageFreeBytes(), load.storageTotalBytes()));
    }

    private void publish(Sample sample) {
        for (Consumer<Sample> listener : listeners) {
            try {
                listener.accept(sample);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "a counter listener failed on a sample of " + sample.at(), e);
            }
        }
    }

    @Override
    public synchronized void close() {
        if (timer != null) {
            timer.shutdownNow();
            timer = null;
        }
    }
}
