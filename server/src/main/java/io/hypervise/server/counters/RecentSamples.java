package io.hypervise.server.counters;

import io.hypervise.engine.counters.HostSample;
import io.hypervise.engine.counters.VmSample;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The last few minutes of each running VM's CPU and memory, kept in memory for the VM lists: their
 * "now" column and its sparkline cost no query; and of the host's CPU, for placement's facts. The history
 * proper is in PostgreSQL.
 */
@ApplicationScoped
public class RecentSamples {

    /** Samples kept per VM: five minutes at the default 5 s period. */
    static final int KEPT = 60;

    private final Map<String, Deque<VmSample>> byVm = new ConcurrentHashMap<>();
    private final Deque<HostSample> host = new ArrayDeque<>();

    /** What a VM used lately, oldest first; {@code cpuCores} 1.0 is one host core busy. */
    public record Recent(double[] cpuCores, long residentBytes, Instant at) {

        public double cpuNow() {
            return cpuCores.length == 0 ? 0 : cpuCores[cpuCores.length - 1];
        }
    }

    void onVm(VmSample sample) {
        Deque<VmSample> samples = byVm.computeIfAbsent(sample.vmId(), id -> new ArrayDeque<>());
        synchronized (samples) {
            samples.addLast(sample);
            while (samples.size() > KEPT) {
                samples.removeFirst();
            }
        }
    }

    void onHost(HostSample sample) {
        synchronized (host) {
            host.addLast(sample);
            while (host.size() > KEPT) {
                host.removeFirst();
            }
        }
    }

    /**
     * The host's cores busy on average over the samples taken since {@code since} (the recent window); empty
     * when there is none in it (counters off, or not sampled lately).
     */
    public OptionalDouble hostCpuCores(Instant since) {
        synchronized (host) {
            return host.stream().filter(s -> !s.at().isBefore(since)).mapToDouble(HostSample::cpuCores).average();
        }
    }

    /** Forgets VMs not sampled in the last three periods (turned off, deleted). */
    void onRoundEnd(Instant at, Duration period) {
        Instant stale = at.minus(period.multipliedBy(3));
        byVm.values().removeIf(samples -> {
            synchronized (samples) {
                return samples.isEmpty() || samples.peekLast().at().isBefore(stale);
            }
        });
    }

    public Optional<Recent> of(String vmId) {
        Deque<VmSample> samples = byVm.get(vmId);
        if (samples == null) {
            return Optional.empty();
        }
        synchronized (samples) {
            if (samples.isEmpty()) {
                return Optional.empty();
            }
            VmSample last = samples.peekLast();
            return Optional.of(new Recent(samples.stream().mapToDouble(VmSample::cpuCores).toArray(),
                    last.residentBytes(), last.at()));
        }
    }
}
