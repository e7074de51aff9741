package io.hypervise.engine.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One process's or thread's line of {@code /proc/PID/stat} or {@code /proc/PID/task/TID/stat}: the CPU
 * time it has used and when it started, both in clock ticks (USER_HZ, 100 a second on Linux).
 *
 * @see <a href="https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html">proc_pid_stat(5)</a>
 */
public record ProcessStat(long userTicks, long systemTicks, long startTicks) {

    /** Linux reports CPU times in USER_HZ, which is 100 on every architecture the kernel exports it for. */
    public static final long TICKS_PER_SECOND = 100;

    /** CPU time used, user and system together, in ticks. */
    public long cpuTicks() {
        return userTicks + systemTicks;
    }

    /** The stat of a process; empty if it does not exist (any more). */
    public static Optional<ProcessStat> ofProcess(long pid) {
        return read(Path.of("/proc", Long.toString(pid), "stat"));
    }

    /** The stat of one thread of a process; empty if it does not exist (any more). */
    public static Optional<ProcessStat> ofThread(long pid, long tid) {
        return read(Path.of("/proc", Long.toString(pid), "task", Long.toString(tid), "stat"));
    }

    static Optional<ProcessStat> read(Path file) {
        try {
            return Optional.of(parse(Files.readString(file, StandardCharsets.US_ASCII)));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Parses a stat line; the command name (field 2) may hold spaces and parentheses, so fields are counted after the last ')'. */
    static ProcessStat parse(String stat) {
        String[] rest = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
        // rest[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
        return new ProcessStat(Long.parseLong(rest[11]), Long.parseLong(rest[12]), Long.parseLong(rest[19]));
    }
}
