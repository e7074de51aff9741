package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.qmp.QmpClient;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.worker.WorkerJail;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two real tiny-linux guests whose workers are confined: each runs as its own user, with no capabilities, no new
 * privileges and QEMU's seccomp filter, in a mount namespace of its own that holds only its own files. Checked the
 * way an operator would: from /proc, from inside the namespace (nsenter), and as the other VM's user (setpriv).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConfinedWorkerTest {

    private static final Duration BOOT = Duration.ofSeconds(90);

    private TestHost host;
    private Engine engine;
    private Path diskA;
    private Path diskB;
    private SerialConsole serialA;

    @BeforeAll
    void bootTwoGuests() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
        assertThat(engine.vms().confinement().confined()).as(engine.vms().confinement().toString()).isTrue();
        diskA = host.newDisk("a.qcow2", "qcow2", "32M");
        diskB = host.newDisk("b.qcow2", "qcow2", "48M");
        engine.vms().define(host.tinyLinux("a").withDisks(new Disk(diskA, DiskFormat.QCOW2, false)).build());
        engine.vms().define(host.tinyLinux("b").withDisks(new Disk(diskB, DiskFormat.QCOW2, false)).build());
        engine.vms().start("a");
        engine.vms().start("b");
        // Let any user pass through the test's folders, as on a real host, so that what keeps one VM's user
        // from another's files is their own permissions, not a folder above them.
        for (Path dir : List.of(host.stateDir().getParent(), host.stateDir(), host.stateDir().resolve("vms"),
                host.stateDir().resolve("vms/a"), host.stateDir().resolve("vms/b"), host.storageRoot())) {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
        }
        serialA = new SerialConsole(engine.vms().serialLog("a"));
        serialA.awaitLine(SerialConsole.READY, 1, BOOT);
        serialA.awaitText("hv-disk vda 33554432", BOOT);
        new SerialConsole(engine.vms().serialLog("b")).awaitText("hv-disk vda 50331648", BOOT);
    }

    @AfterAll
    void leaveNothingBehind() throws Exception {
        try {
            if (engine != null) {
                engine.close();
            }
        } finally {
            host.close();
        }
        assertThat(host.workers()).as("workers left running").isEmpty();
        assertThat(host.stateDir()).doesNotExist();
    }

    @Test
    @Order(1)
    void eachWorkerRunsAsItsOwnUnprivilegedUserWithNoCapabilitiesNoNewPrivilegesAndSeccomp() throws Exception {
        WorkerJail.Status jail = engine.vms().confinement();
        Map<String, String> a = status(pid("a"));
        Map<String, String> b = status(pid("b"));
        for (Map<String, String> worker : List.of(a, b)) {
            int uid = Integer.parseInt(worker.get("Uid").split("\\s+")[0]);
            assertThat(uid).isBetween(jail.firstUid(), jail.lastUid());
            assertThat(worker.get("Uid")).isEqualTo(uid + "\t" + uid + "\t" + uid + "\t" + uid);
            assertThat(worker.get("Gid").split("\\s+")[0]).isEqualTo(Integer.toString(uid));
            assertThat(worker.get("Groups")).isBlank();
            assertThat(worker.get("CapEff")).isEqualTo("0000000000000000");
            assertThat(worker.get("CapPrm")).isEqualTo("0000000000000000");
            assertThat(worker.get("CapBnd")).isEqualTo("0000000000000000");
            assertThat(worker.get("NoNewPrivs")).isEqualTo("1");
            assertThat(worker.get("Seccomp")).isEqualTo("2");
        }
        assertThat(a.get("Uid")).isNotEqualTo(b.get("Uid"));
        // Its own mount namespace, not the host's.
        assertThat(Files.readSymbolicLink(Path.of("/proc/" + pid("a") + "/ns/mnt")))
                .isNotEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")));
    }

    @Test
    @Order(2)
    void insideItsNamespaceAWorkerSeesItsOwnFilesAndNothingOfTheHostsOrTheOtherVms() throws Exception {
        long a = pid("a");
        Path stateA = host.stateDir().resolve("vms/a");
        assertThat(inNamespace(a, "test", "-e", diskA.toString()).exit()).as("its own disk").isZero();
        assertThat(inNamespace(a, "test", "-S", stateA.resolve("run/qmp.sock").toString()).exit()).isZero();
        assertThat(inNamespace(a, "test", "-e", "/etc/shadow").exit()).as("the host's /etc/shadow").isNotZero();
        assertThat(inNamespace(a, "test", "-e", "/etc").exit()).as("the host's /etc").isNotZero();
        assertThat(inNamespace(a, "test", "-e", diskB.toString()).exit()).as("the other VM's disk").isNotZero();
        assertThat(inNamespace(a, "test", "-e", host.stateDir().resolve("vms/b").toString()).exit())
                .as("the other VM's folder").isNotZero();
        assertThat(inNamespace(a, "test", "-e", stateA.resolve("definition.json").toString()).exit())
                .as("the engine's own files of the VM").isNotZero();
        assertThat(inNamespace(a, "test", "-e", "/root").exit()).isNotZero();
        // Its user sees only its own processes in its /proc: the worker, and the ls that looks.
        String uid = status(a).get("Uid").split("\\s+")[0];
        List<String> pids = inNamespace(a, "setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--", "ls", "/proc")
                .out().lines().filter(l -> l.matches("[0-9]+")).toList();
        assertThat(pids).contains(Long.toString(a)).doesNotContain("1", Long.toString(pid("b"))).hasSize(2);
    }

    @Test
    @Order(3)
    void theOtherVmsUserCannotOpenTheFirstOnesDiskOrQmpSocket() throws Exception {
        String uidB = status(pid("b")).get("Uid").split("\\s+")[0];
        Path qmpA = host.stateDir().resolve("vms/a/run/qmp.sock");
        Result disk = run("setpriv", "--reuid", uidB, "--regid", uidB, "--clear-groups", "--", "head", "-c", "1",
                diskA.toString());
        assertThat(disk.exit()).isNotZero();
        assertThat(disk.out()).contains("Permission denied");
        Result socket = run("setpriv", "--reuid", uidB, "--regid", uidB, "--clear-groups", "--", "/usr/bin/python3", "-c",
                "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])", qmpA.toString());
        assertThat(socket.exit()).isNotZero();
        assertThat(socket.out()).contains("Permission denied");
        // B's own disk is B's: its user reads it.
        assertThat(run("setpriv", "--reuid", uidB, "--regid", uidB, "--clear-groups", "--", "head", "-c", "1",
                diskB.toString()).exit()).isZero();
    }

    @Test
    @Order(4)
    void aDiskAddedWhileTheWorkerRunsIsVisibleInsideItsNamespaceAndTheGuestSeesIt() throws Exception {
        Path extra = host.newDisk("extra.qcow2", "qcow2", "24M");
        engine.vms().addDisk("a", new Disk(extra, DiskFormat.QCOW2, false), null, n -> { });
        serialA.awaitText("hv-disk vdb 25165824", BOOT);
        assertThat(inNamespace(pid("a"), "test", "-e", extra.toString()).exit()).as("not at its host path").isNotZero();
        engine.vms().removeDisk("a", 1);
        serialA.awaitText("hv-disk-gone vdb", BOOT);
        assertThat((Integer) Files.getAttribute(extra, "unix:uid")).as("given back to its owner").isZero();
    }

    @Test
    @Order(5)
    void aSavedConfinedVmRestoresAndCountsOn() throws Exception {
        long before = serialA.awaitCounterAbove(0, BOOT);
        assertThat(engine.vms().save("a").state()).isEqualTo(VmState.SAVED);
        assertThat(engine.vms().start("a").state()).isEqualTo(VmState.RUNNING);
        serialA.awaitCounterAbove(before + 1, BOOT);
        assertThat(status(pid("a")).get("Seccomp")).isEqualTo("2");
    }

    @Test
    @Order(6)
    void aWorkerThatTriesToSpawnAProcessIsKilledByItsFilter() throws Exception {
        long a = pid("a");
        long b = pid("b");
        engine.close(); // workers go on running; the test takes B's QMP socket
        engine = null;
        Path qmp = host.stateDir().resolve("vms/b/run/qmp.sock");
        try (QmpClient client = QmpClient.connect(qmp, Duration.ofSeconds(10))) {
            var args = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode().put("uri", "exec:true");
            try {
                client.execute("migrate", args, Duration.ofSeconds(10));
            } catch (Exception e) {
                // the worker dies on the fork: QMP closes under the command
            }
        }
        ProcessHandle.of(b).ifPresent(worker -> worker.onExit().orTimeout(30, TimeUnit.SECONDS).join());
        assertThat(ProcessHandle.of(b).map(ProcessHandle::isAlive)).as("B's worker after it tried to fork").isNotEqualTo(java.util.Optional.of(true));
        // A new engine finds B's worker gone, and re-attaches to A's (the same PID, start time and user).
        engine = host.openEngine();
        assertThat(engine.vms().status("b").state()).isEqualTo(VmState.OFF);
        assertThat(engine.vms().status("a").state()).isEqualTo(VmState.RUNNING);
        assertThat(pid("a")).isEqualTo(a);
        long counted = serialA.awaitCounterAbove(0, BOOT);
        serialA.awaitCounterAbove(counted, BOOT);
    }

    private long pid(String vm) {
        return engine.vms().status(vm).workerPid().orElseThrow();
    }

    private static Map<String, String> status(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.contains(":"))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf(':')), l -> l.substring(l.indexOf(':') + 1).trim(),
                        (x, y) -> x));
    }

    private static Result inNamespace(long pid, String... command) throws Exception {
        List<String> argv = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "-m", "--"));
        argv.addAll(List.of(command));
        return run(argv.toArray(String[]::new));
    }

    record Result(int exit, String out) {
    }

    private static Result run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out);
    }
}
