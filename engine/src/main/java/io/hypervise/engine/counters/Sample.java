package io.hypervise.engine.counters;

import java.time.Duration;
import java.time.Instant;
import java.util.SequencedMap;

/**
 * What the sampler reports: how busy one VM or the host was over the interval that ended at {@code at}.
 * Rates are per second over that interval; CPU is in cores (1.0 is one host core kept busy).
 */
public sealed interface Sample permits VmSample, HostSample {

    Instant at();

    /** The time since the previous sample of the same worker (or of the host). */
    Duration interval();

    /**
     * The sample as named numbers, in a fixed order for a given set of devices: what the server stores
     * and plots. Names are dotted paths ({@code cpu}, {@code vcpu.0}, {@code disk.disk0.write-bytes}).
     */
    SequencedMap<String, Double> series();
}
