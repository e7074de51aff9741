package io.hypervise.engine.counters;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.engine.counters.WorkerReading.BlockCounters;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What the sampler reads from QEMU and /proc, from replies and lines recorded on this machine's QEMU 7.2. */
class CounterParsingTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void vcpuThreadsComeInVcpuOrder() throws Exception {
        JsonNode cpus = JSON.readTree("""
                [{"thread-id": 9502, "props": {"core-id": 0, "thread-id": 0, "socket-id": 1}, "cpu-index": 1, "target": "x86_64"},
                 {"thread-id": 9439, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "cpu-index": 0, "target": "x86_64"}]""");
        assertThat(WorkerProbe.vcpuThreads(cpus)).containsExactly(9439L, 9502L);
    }

    @Test
    void blockCountersAreReadForTheDisksTheEngineNamed() throws Exception {
        JsonNode stats = JSON.readTree("""
                [{"device": "", "node-name": "disk0", "qdev": "/machine/peripheral-anon/device[0]/virtio-backend",
                  "stats": {"rd_bytes": 12288, "wr_bytes": 8388608, "rd_operations": 3, "wr_operations": 64, "flush_operations": 1},
                  "parent": {"stats": {"rd_bytes": 999}}},
                 {"device": "sd0", "stats": {"rd_bytes": 1}}]""");
        assertThat(WorkerProbe.blockCounters(stats)).containsOnlyKeys("disk0")
                .containsEntry("disk0", new BlockCounters(12288, 8388608, 3, 64));
    }

    @Test
    void guestMemoryIsAbsentUntilTheGuestHasReportedIt() throws Exception {
        JsonNode none = JSON.readTree("""
                {"stats": {"stat-total-memory": 18446744073709551615, "stat-available-memory": 18446744073709551615,
                           "stat-free-memory": 18446744073709551615}, "last-update": 0}""");
        JsonNode reported = JSON.readTree("""
                {"stats": {"stat-total-memory": 232468480, "stat-available-memory": 190000000,
                           "stat-free-memory": 180000000}, "last-update": 1796000000}""");
        JsonNode noAvailable = JSON.readTree("""
                {"stats": {"stat-total-memory": 232468480, "stat-available-memory": 18446744073709551615,
                           "stat-free-memory": 180000000}, "last-update": 1796000000}""");
        assertThat(WorkerProbe.guestMemory(none)).isEmpty();
        assertThat(WorkerProbe.guestMemory(reported)).contains(new VmSample.GuestMemory(232468480, 190000000));
        assertThat(WorkerProbe.guestMemory(noAvailable)).contains(new VmSample.GuestMemory(232468480, 180000000));
    }

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
