package io.hypervise.engine.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** The replies the counters read from QEMU, as recorded on this machine's QEMU 7.2. */
class QemuMonitorParsingTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void vcpuThreadsComeInVcpuOrder() throws Exception {
        JsonNode cpus = JSON.readTree("""
                [{"thread-id": 9502, "props": {"core-id": 0, "thread-id": 0, "socket-id": 1}, "cpu-index": 1, "target": "x86_64"},
                 {"thread-id": 9439, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "cpu-index": 0, "target": "x86_64"}]""");
        assertThat(QemuMonitor.vcpuThreads(cpus)).containsExactly(9439L, 9502L);
    }

    @Test
    void vcpuSlotsComeInSlotOrderWithTheirPropsAndWhetherAVcpuIsInThem() throws Exception {
        // QEMU 7.2, q35, -smp 1,maxcpus=3 with the second slot filled by device_add: it lists slots last first.
        JsonNode slots = JSON.readTree("""
                [{"props": {"core-id": 2, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
                 {"props": {"core-id": 1, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1,
                  "qom-path": "/machine/peripheral/cpu1", "type": "max-x86_64-cpu"},
                 {"props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1,
                  "qom-path": "/machine/unattached/device[0]", "type": "max-x86_64-cpu"}]""");
        assertThat(QemuMonitor.cpuSlots(slots)).extracting(s -> s.props().get("core-id"), QemuMonitor.CpuSlot::present)
                .containsExactly(org.assertj.core.api.Assertions.tuple(0L, true), org.assertj.core.api.Assertions.tuple(1L, true),
                        org.assertj.core.api.Assertions.tuple(2L, false));
        assertThat(QemuMonitor.cpuSlots(slots).get(2).props())
                .containsExactly(java.util.Map.entry("node-id", 0L), java.util.Map.entry("socket-id", 0L),
                        java.util.Map.entry("core-id", 2L), java.util.Map.entry("thread-id", 0L));
        assertThat(QemuMonitor.cpuSlots(slots).get(2).type()).isEqualTo("max-x86_64-cpu");
    }

    @Test
    void blockCountersAreReadForTheDisksTheEngineNamed() throws Exception {
        JsonNode stats = JSON.readTree("""
                [{"device": "", "node-name": "disk0", "qdev": "/machine/peripheral-anon/device[0]/virtio-backend",
                  "stats": {"rd_bytes": 12288, "wr_bytes": 8388608, "rd_operations": 3, "wr_operations": 64, "flush_operations": 1},
                  "parent": {"stats": {"rd_bytes": 999}}},
                 {"device": "sd0", "stats": {"rd_bytes": 1}}]""");
        assertThat(QemuMonitor.blockStats(stats)).containsOnlyKeys("disk0")
                .containsEntry("disk0", new QemuMonitor.BlockStats(12288, 8388608, 3, 64));
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
        assertThat(QemuMonitor.balloonStats(none)).isEmpty();
        assertThat(QemuMonitor.balloonStats(reported)).contains(new QemuMonitor.BalloonStats(232468480, 190000000));
        assertThat(QemuMonitor.balloonStats(noAvailable)).contains(new QemuMonitor.BalloonStats(232468480, 180000000));
    }
}
