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

    @Test
    void aCompletedLiveMigrationSaysItsDowntimeTimesAndRam() throws Exception {
        // QEMU 7.2, tiny-linux with 256 MiB, migrated over TCP on this machine (fields not read left out).
        JsonNode info = JSON.readTree("""
                {"expected-downtime": 300, "status": "completed", "setup-time": 2, "total-time": 410, "downtime": 87,
                 "ram": {"total": 286654464, "remaining": 0, "transferred": 81620109, "duplicate": 50000,
                         "normal": 19700, "mbps": 1600.2}}""");
        QemuMonitor.MigrationInfo parsed = QemuMonitor.migrationInfo(info);
        assertThat(parsed.completed()).isTrue();
        assertThat(parsed.downtimeMillis()).isEqualTo(87);
        assertThat(parsed.totalTimeMillis()).isEqualTo(410);
        assertThat(parsed.setupTimeMillis()).isEqualTo(2);
        assertThat(parsed.ramTransferred()).isEqualTo(81620109L);
        assertThat(parsed.ramTotal()).isEqualTo(286654464L);
        assertThat(QemuMonitor.migrationInfo(JSON.readTree("""
                {"status": "failed", "error-desc": "Unable to write to socket: Broken pipe"}""")).error())
                .contains("Unable to write to socket: Broken pipe");
    }

    @Test
    void mirrorJobsSayWhetherTheyAreReadyHowFarAndWhyTheyFailed() throws Exception {
        JsonNode jobs = JSON.readTree("""
                [{"current-progress": 67108864, "status": "ready", "total-progress": 67108864, "type": "mirror", "id": "mig-disk0"},
                 {"current-progress": 1048576, "status": "concluded", "total-progress": 67108864, "type": "mirror",
                  "id": "mig-disk1", "error": "Input/output error"}]""");
        var parsed = QemuMonitor.jobs(jobs);
        assertThat(parsed.get("mig-disk0").ready()).isTrue();
        assertThat(parsed.get("mig-disk0").current()).isEqualTo(67108864L);
        assertThat(parsed.get("mig-disk1").concluded()).isTrue();
        assertThat(parsed.get("mig-disk1").error()).contains("Input/output error");
    }
}
