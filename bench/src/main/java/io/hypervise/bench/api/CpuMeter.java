package io.hypervise.bench.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Who used the machine's CPUs during a measurement: this load generator, the server, PostgreSQL (the
 * postmaster and its backends) and everything else (Keycloak, other people's builds). The machine's
 * total comes from /proc/stat, each process's from /proc/PID/stat, both in clock ticks.
 */
public final class CpuMeter {

    /** USER_HZ: what Linux counts CPU time in, in /proc, on every architecture we run on. */
    private static final double TICKS_PER_SECOND = 100;

    private final long serverPid;
    private final long postmasterPid;

    public CpuMeter(long serverPid, long postmasterPid) {
        this.serverPid = serverPid;
        this.postmasterPid = postmasterPid;
    }

    /** CPU seconds used so far. */
    public record Sample(long nanoTime, double client, double server, double postgres, double machine) {
    }

    /** Cores used on average between two samples. */
    record Usage(double client, double server, double postgres, double others) {

        static final Usage NONE = new Usage(0, 0, 0, 0);

        /** The average of two measurements weighted by their durations. */
        Usage mean(Usage other, double seconds, double otherSeconds) {
            double total = seconds + otherSeconds;
            if (total == 0) {
                return this;
            }
            return new Usage((client * seconds + other.client * otherSeconds) / total,
                    (server * seconds + other.server * otherSeconds) / total,
                    (postgres * seconds + other.postgres * otherSeconds) / total,
                    (others * seconds + other.others * otherSeconds) / total);
        }
    }

    public Sample sample() throws IOException {
        double postgres = processSeconds(postmasterPid);
        for (ProcessHandle backend : ProcessHandle.of(postmasterPid).map(p -> p.children().toList()).orElse(List.of())) {
            postgres += processSeconds(backend.pid());
        }
        return new Sample(System.nanoTime(), processSeconds(ProcessHandle.current().pid()), processSeconds(serverPid),
                postgres, machineSeconds());
    }

    static Usage between(Sample a, Sample b) {
        double wall = (b.nanoTime() - a.nanoTime()) / 1e9;
        double client = (b.client() - a.client()) / wall;
        double server = (b.server() - a.server()) / wall;
        double postgres = (b.postgres() - a.postgres()) / wall;
        double machine = (b.machine() - a.machine()) / wall;
        return new Usage(client, server, postgres, Math.max(0, machine - client - server - postgres));
    }

    /** utime + stime, fields 14 and 15 of /proc/PID/stat (counted after the command, which may hold spaces). */
    public static double processSeconds(long pid) throws IOException {
        Optional<String> stat = read(Path.of("/proc", Long.toString(pid), "stat"));
        if (stat.isEmpty()) {
            return 0; // it has exited
        }
        String[] fields = stat.get().substring(stat.get().lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / TICKS_PER_SECOND;
    }

    /** Busy time of all CPUs: the first line of /proc/stat without idle and iowait. */
    private static double machineSeconds() throws IOException {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
        long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                + Long.parseLong(f[7]) + Long.parseLong(f[8]);
        return busy / TICKS_PER_SECOND;
    }

    private static Optional<String> read(Path file) throws IOException {
        try {
            return Optional.of(Files.readString(file));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }
}
