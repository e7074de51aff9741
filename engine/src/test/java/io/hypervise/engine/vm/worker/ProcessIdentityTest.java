package io.hypervise.engine.vm.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A recorded worker is trusted only when its PID, start time, user and command line all still match. */
class ProcessIdentityTest {

    @Test
    void aProcessIsTheRecordedWorkerOnlyIfItRunsAsTheRecordedUser() throws Exception {
        Path socket = Path.of("/tmp/hv-identity/vms/x/run/qmp.sock");
        // A stand-in whose command line names the VM and its QMP socket as a worker's does.
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import time; time.sleep(60)",
                "guest=hypervise-x,debug-threads=on", "unix:" + socket + ",server=on,wait=off").start();
        try {
            long ticks = ProcessIdentity.startTicks(p.pid()).orElseThrow();
            long uid = ProcessIdentity.uid(p.pid()).orElseThrow();
            assertThat(uid).isEqualTo(Long.parseLong(String.valueOf(
                    java.nio.file.Files.getAttribute(Path.of("/proc/self"), "unix:uid"))));
            assertThat(ProcessIdentity.isWorker(p.pid(), ticks, (int) uid, "hypervise-x", socket)).isTrue();
            assertThat(ProcessIdentity.isWorker(p.pid(), ticks, null, "hypervise-x", socket))
                    .as("a record written before workers had users of their own").isTrue();
            assertThat(ProcessIdentity.isWorker(p.pid(), ticks, 640123, "hypervise-x", socket))
                    .as("another user: not the worker that was recorded").isFalse();
            assertThat(ProcessIdentity.isWorker(p.pid(), ticks + 1, (int) uid, "hypervise-x", socket)).isFalse();
            assertThat(ProcessIdentity.isWorker(p.pid(), ticks, (int) uid, "hypervise-y", socket)).isFalse();
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
