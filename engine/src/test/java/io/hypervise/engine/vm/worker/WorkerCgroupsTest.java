package io.hypervise.engine.vm.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.vm.definition.Resources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which cgroups a host offers, read from what the kernel says of this process, and what the engine writes into
 * a worker's group. The hierarchies here are plain directories standing in for cgroupfs; the real ones are used
 * by the server's resource-control test with real guests.
 */
class WorkerCgroupsTest {

    @TempDir
    Path root;

    @Test
    void aHostWithCpuOnlyInCgroupV1UsesV1ForCpuAndSaysWhyThereIsNoReservation() throws Exception {
        Path cpu = Files.createDirectories(root.resolve("cpu"));
        Path unified = Files.createDirectories(root.resolve("unified"));
        Files.writeString(unified.resolve("cgroup.controllers"), "hugetlb\n");
        List<String> mountinfo = List.of(
                "30 25 0:26 / " + unified + " rw,relatime shared:5 - cgroup2 cgroup2 rw",
                "31 25 0:27 / " + cpu + " rw,relatime shared:6 - cgroup cgroup rw,cpu",
                "32 25 0:28 / " + root.resolve("cpuset") + " rw,relatime shared:7 - cgroup cgroup rw,cpuset");
        List<String> self = List.of("3:cpuset:/", "1:cpu:/", "0::/");

        WorkerCgroups cgroups = WorkerCgroups.probe(mountinfo, self, "hypervise-test");

        assertThat(cgroups.cpuUnavailable()).isEmpty();
        assertThat(cgroups.cpuVersion()).contains("v1");
        assertThat(cgroups.memoryReservationUnavailable()).get().asString()
                .contains("offers only hugetlb").contains("memory.low");

        Path group = cpu.resolve("hypervise-test/vm-1");
        cgroups.apply("vm-1", 4242, 2, new Resources(200, 50, null, null, null, null));
        assertThat(Files.readString(group.resolve("cpu.shares"))).isEqualTo("2048");
        assertThat(Files.readString(group.resolve("cpu.cfs_quota_us"))).as("half of two vCPUs: one CPU").isEqualTo("100000");
        assertThat(Files.readString(group.resolve("cgroup.procs"))).isEqualTo("4242");

        cgroups.apply("vm-1", 4242, 2, Resources.NONE);
        assertThat(Files.readString(group.resolve("cpu.shares"))).isEqualTo("1024");
        assertThat(Files.readString(group.resolve("cpu.cfs_quota_us"))).isEqualTo("-1");
    }

    @Test
    void cgroupV2WithCpuAndMemoryDelegatedIsPreferred() throws Exception {
        Path unified = Files.createDirectories(root.resolve("unified"));
        Path own = Files.createDirectories(unified.resolve("hypervise.service"));
        Files.writeString(own.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
        Files.writeString(own.resolve("cgroup.subtree_control"), "");
        Files.createDirectories(own.resolve("hypervise-test"));
        Files.writeString(own.resolve("hypervise-test/cgroup.subtree_control"), "");
        List<String> mountinfo = List.of("30 25 0:26 / " + unified + " rw,relatime shared:5 - cgroup2 cgroup2 rw");

        WorkerCgroups cgroups = WorkerCgroups.probe(mountinfo, List.of("0::/hypervise.service"), "hypervise-test");

        assertThat(cgroups.cpuVersion()).contains("v2");
        assertThat(cgroups.memoryReservationUnavailable()).isEmpty();
        assertThat(Files.readString(own.resolve("hypervise-test/cgroup.subtree_control"))).as("the last controller enabled")
                .isEqualTo("+memory");
        cgroups.apply("vm-2", 77, 1, new Resources(50, 25, 128, null, null, null));
        Path group = own.resolve("hypervise-test/vm-2");
        assertThat(Files.readString(group.resolve("cpu.weight"))).isEqualTo("50");
        assertThat(Files.readString(group.resolve("cpu.max"))).isEqualTo("25000 100000");
        assertThat(Files.readString(group.resolve("memory.low"))).isEqualTo(Long.toString(128L << 20));
    }

    @Test
    void aHostWithNoCpuControllerAnywhereSaysSo() {
        WorkerCgroups cgroups = WorkerCgroups.probe(List.of(), List.of("0::/"), "hypervise-test");

        assertThat(cgroups.cpuUnavailable()).get().asString().contains("no cgroup v2 hierarchy is mounted")
                .contains("no cgroup v1 cpu hierarchy");
        assertThat(cgroups.cpuVersion()).isEmpty();
    }
}
