package io.hypervise.server.counters;

import io.hypervise.engine.Engine;
import io.hypervise.engine.counters.CounterSampler;
import io.hypervise.engine.counters.HostSample;
import io.hypervise.engine.counters.Sample;
import io.hypervise.engine.counters.VmSample;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.LocalHost;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Takes the engine's samples into PostgreSQL and Prometheus: each sample updates the gauges and joins
 * a queue; a writer thread stores what has queued up once a period, in one COPY. A full queue (the
 * database has been away for a long while) drops the newest samples and counts them, rather than hold
 * the sampler up or grow without bound. Once a {@code maintenance} interval, the rollups are brought up
 * to date and expired partitions dropped.
 */
@ApplicationScoped
public class CounterIngest {

    private static final Logger LOG = Logger.getLogger(CounterIngest.class);
    /** An hour of 1,000 VMs sampled every 5 s. */
    static final int QUEUE_CAPACITY = 720_000;

    @Inject
    RecentSamples recent;

    @Inject
    Engine engine;

    @Inject
    CounterStore store;

    @Inject
    CounterGauges gauges;

    @Inject
    LocalHost localHost;

    @Inject
    ServerConfig config;

    @Inject
    MeterRegistry registry;

    private final BlockingQueue<Sample> queue = new LinkedBlockingQueue<>(QUEUE_CAPACITY);
    private Counter written;
    private Counter dropped;
    private Timer writes;
    private Thread writer;
    private ScheduledExecutorService maintenance;
    private volatile boolean stopping;

    void onStart(@Observes @Priority(20) StartupEvent event) {
        ServerConfig.Counters settings = config.counters();
        CounterSampler sampler = engine.counters();
        written = registry.counter("hypervise.counters.samples.written");
        dropped = registry.counter("hypervise.counters.samples.dropped");
        writes = Timer.builder("hypervise.counters.writes").description("time to store one batch of samples")
                .register(registry);
        FunctionCounter.builder("hypervise.counters.samples.failed", sampler, CounterSampler::failed)
                .description("VM samples given up on: the worker did not answer in time").register(registry);
        FunctionCounter.builder("hypervise.counters.samples.skipped", sampler, CounterSampler::skipped)
                .description("VM samples skipped while the VM's previous one was still waiting").register(registry);
        if (!settings.enabled()) {
            LOG.info("counters are off (hypervise.counters.enabled=false)");
            return;
        }
        try {
            store.createPartitions(Instant.now());
        } catch (SQLException e) {
            LOG.warnf("cannot create the counters' partitions yet: %s", e.getMessage());
        }
        sampler.addListener(this::accept);
        writer = Thread.ofPlatform().daemon().name("counter-writer").start(this::writeUntilStopped);
        sampler.start(settings.period());
        if (!settings.maintenance().isZero()) {
            maintenance = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("counter-maintenance").factory());
            long every = settings.maintenance().toMillis();
            maintenance.scheduleWithFixedDelay(this::maintain, every, every, TimeUnit.MILLISECONDS);
        }
    }

    void onStop(@Observes ShutdownEvent event) {
        stopping = true;
        engine.counters().close();
        if (maintenance != null) {
            maintenance.shutdownNow();
        }
        if (writer != null) {
            writer.interrupt();
        }
    }

    private void accept(Sample sample) {
        switch (sample) {
            case VmSample vm -> {
                gauges.onVm(vm);
                recent.onVm(vm);
            }
            case HostSample host -> {
                gauges.onHost(host, localHost.id(), config.counters().period());
                recent.onHost(host);
                recent.onRoundEnd(host.at(), config.counters().period());
            }
        }
        if (!queue.offer(sample)) {
            dropped.increment();
        }
    }

    private void writeUntilStopped() {
        Duration period = config.counters().period();
        List<Sample> batch = new ArrayList<>();
        while (!stopping) {
            try {
                Sample first = queue.poll(period.toMillis(), TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                Thread.sleep(Math.min(period.toMillis() / 2, 1000)); // let the round's other samples arrive
                batch.add(first);
                queue.drainTo(batch, 50_000);
                write(batch);
                batch.clear();
                gauges.refreshOwners();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void write(List<Sample> batch) throws InterruptedException {
        List<CounterStore.Row> rows = new ArrayList<>(batch.size());
        String hostId = localHost.id();
        for (Sample s : batch) {
            Target target = switch (s) {
                case VmSample vm -> Target.vm(vm.vmId());
                case HostSample host -> Target.host(hostId);
            };
            var series = s.series();
            double[] values = series.values().stream().mapToDouble(Double::doubleValue).toArray();
            rows.add(new CounterStore.Row(target, s.at(), s.interval().toNanos() / 1e9, List.copyOf(series.keySet()), values));
        }
        long t0 = System.nanoTime();
        try {
            store.write(rows);
            writes.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
            written.increment(rows.size());
        } catch (SQLException | RuntimeException e) {
            // The database may be restarting; these samples are lost, later ones are tried again.
            dropped.increment(rows.size());
            LOG.warnf("%d counter samples not stored: %s", rows.size(), e.getMessage());
            Thread.sleep(1000);
        }
    }

    private void maintain() {
        try {
            CounterStore.Maintenance done = store.maintain(Instant.now(), config.counters().period());
            if (!done.dropped().isEmpty()) {
                LOG.infof("counters: dropped expired partitions %s", done.dropped());
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warnf("counters: rollup or expiry failed (tried again in %s): %s", config.counters().maintenance(),
                    e.getMessage());
        }
    }
}
