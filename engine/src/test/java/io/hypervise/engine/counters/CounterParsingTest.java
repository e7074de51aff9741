package io.hypervise.engine.counters;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What the sampler makes of /proc (lines recorded on this machine) and of its samples; QEMU's replies are QemuMonitorParsingTest's. */
class CounterParsingTest {

    @Test
    void hostCpuIsTheShareOfTicksNeitherIdleNorWaitingTimesTheCores() {
        HostCpuTimes before = HostCpuTimes.parse("cpu  100 0 100 700 100 0 0 0 0 0", 0);
        HostCpuTimes after = HostCpuTimes.parse("cpu  200 0 200 1200 200 0 0 0 50 0", 1_000_000_000);
        // 800 ticks passed: 200 busy, 600 idle or waiting; guest time (50) is already counted in user.
        assertThat(after.busyCoresSince(before, 2)).isEqualTo(0.5);
    }

    @Test
    void aVmSampleFlattensToNamedSeriesInAStableOrder() {
        VmSample sample = new VmSample("web-1", Instant.EPOCH, Duration.ofSeconds(5), 1.2, List.of(0.9, 0.1), 300L << 20,
                Optional.of(new VmSample.GuestMemory(200L << 20, 150L << 20)),
                List.of(new VmSample.DiskSample("disk0", 1, 2, 3, 4)),
                List.of(new VmSample.NicSample("net0", "52:54:00:00:00:01", Optional.empty(), Optional.of("no counters"))));
        assertThat(sample.series().keySet()).containsExactly("cpu", "vcpu.0", "vcpu.1", "memory.resident",
                "memory.guest.total", "memory.guest.available", "disk.disk0.read-bytes", "disk.disk0.write-bytes",
                "disk.disk0.read-ops", "disk.disk0.write-ops");
    }
}
