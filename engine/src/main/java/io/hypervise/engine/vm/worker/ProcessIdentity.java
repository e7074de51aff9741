package io.hypervise.engine.vm.worker;

import io.hypervise.engine.host.ProcessStat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

/**
 * Reads who a process is from /proc, so that the engine never signals a PID it has not confirmed is
 * its own worker (the lesson of Proxmox's and libvirt's PID-reuse bugs).
 */
public final class ProcessIdentity {

    private ProcessIdentity() {
    }

    /** The process's start time in clock ticks after boot (field 22 of /proc/PID/stat). */
    public static OptionalLong startTicks(long pid) {
        return ProcessStat.ofProcess(pid).map(s -> OptionalLong.of(s.startTicks())).orElse(OptionalLong.empty());
    }

    static List<String> commandLine(long pid) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            String joined = new String(raw, StandardCharsets.UTF_8);
            return Arrays.asList(joined.split("\0"));
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The process's real user (the first of /proc/PID/status's Uid line), if it runs. */
    public static OptionalLong uid(long pid) {
        try {
            return Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                    .filter(l -> l.startsWith("Uid:")).mapToLong(l -> Long.parseLong(l.split("\\s+")[1])).findFirst();
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * Whether {@code pid} is the worker described by the record: the same start time, the same user (when the
     * record says which), and a QEMU command line naming this VM and this QMP socket.
     */
    static boolean isWorker(long pid, long expectedStartTicks, Integer expectedUid, String workerName, Path qmpSocket) {
        OptionalLong ticks = startTicks(pid);
        if (ticks.isEmpty() || ticks.getAsLong() != expectedStartTicks) {
            return false;
        }
        if (expectedUid != null && uid(pid).orElse(-1) != expectedUid) {
            return false;
        }
        List<String> argv = commandLine(pid);
        boolean named = argv.stream().anyMatch(a -> a.startsWith("guest=" + workerName + ","));
        boolean socket = argv.stream().anyMatch(a -> a.contains(QemuArgs.optionValue(qmpSocket.toString())));
        return named && socket;
    }
}
