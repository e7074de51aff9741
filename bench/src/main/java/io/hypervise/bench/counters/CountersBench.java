package io.hypervise.bench.counters;

import io.hypervise.bench.api.BenchServer;
import io.hypervise.bench.api.CpuMeter;
import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.host.ProcessStat;
import io.hypervise.engine.network.PortCounters;
import io.hypervise.engine.network.SwitchKind;
import io.hypervise.engine.network.VirtualSwitch;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.template.TinyLinuxTemplate;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.postgresql.PGConnection;

/**
 * What the utilization counters cost, in two parts.
 *
 * <p><b>The sampler</b>, against real guests: boots {@code guests} tiny-linux VMs through the engine,
 * then runs sampling rounds back to back and measures the CPU this JVM used per VM sample (reading /proc
 * and three QMP commands), and the CPU each worker's main thread (where QEMU answers QMP) used for it,
 * each less what the same wall time costs without sampling.
 *
 * <p><b>The database</b>: the packaged server's PostgreSQL (counters off in the server, so only the
 * benchmark writes), fed as the server feeds it: per period one COPY of {@code vms} VM rows (1 vCPU, one
 * disk, guest memory: 9 values each) and the host's row, then the minute rollup over what was written,
 * and expiry of a partition. PostgreSQL's CPU comes from /proc (postmaster and backends), its writes from
 * the WAL position, its storage from the partitions' size.
 */
public final class CountersBench {

    private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "hypervise");
    private static final Duration PERIOD = Duration.ofSeconds(5);

    public static void main(String[] args) throws Exception {
        int guests = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int vms = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        int periods = args.length > 2 ? Integer.parseInt(args[2]) : 120;
        Path dir = Path.of(System.getProperty("hypervise.bench.dir", Files.createTempDirectory(Path.of("/tmp"), "hvc").toString()));
        try {
            if (guests > 0) {
                sampler(dir.resolve("e"), guests);
            }
            if (vms > 0) {
                database(dir.resolve("server"), Path.of(System.getProperty("hypervise.bench.server-jar")), vms, periods);
            }
        } finally {
            FileTrees.delete(dir.resolve("e"));
        }
    }

    // ---------------------------------------------------------------- the sampler

    private static void sampler(Path dir, int guests) throws Exception {
        TinyLinuxTemplate.Built template = TinyLinuxTemplate.ensure(TinyLinuxTemplate.Variant.AMD64, CACHE.resolve("library"), CACHE.resolve("downloads"),
                line -> System.out.println("[tiny-linux] " + line));
        Path storage = Files.createDirectories(dir.resolve("storage"));
        Path kernel = Files.copy(template.kernel(), storage.resolve("vmlinux"), StandardCopyOption.REPLACE_EXISTING);
        Path initrd = Files.copy(template.initramfs(), storage.resolve("initrd.img"), StandardCopyOption.REPLACE_EXISTING);
        // The guests' adapters are on a private switch, so that each sample reads their ports' counters too.
        String switchId = "bench" + ProcessHandle.current().pid() % 100000;
        try (Engine engine = Engine.open(EngineConfig.defaults(dir.resolve("state"), storage))) {
            engine.switches().ensure(new VirtualSwitch(switchId, SwitchKind.PRIVATE, Optional.empty()));
            System.out.printf("host: %s, %d CPUs, QEMU %s, accelerator %s%n", engine.host().cpuModel(), engine.host().cpus(),
                    engine.host().qemuVersion(), engine.host().accelerator());
            List<Long> workers = new ArrayList<>();
            for (int i = 0; i < guests; i++) {
                Path disk = storage.resolve("disk" + i + ".qcow2");
                new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "64M").inheritIO().start().waitFor();
                engine.vms().define(new VmDefinition("g" + i, "guest " + i, 1, 256, DeviceProfile.ENLIGHTENED,
                        List.of(new Disk(disk, DiskFormat.QCOW2, false)), List.of(new Nic(String.format("52:54:00:be:00:%02x", i), switchId)),
                        new BootSource.Kernel(kernel, initrd, template.commandLine()), Display.VNC));
                VmStatus started = engine.vms().start("g" + i);
                workers.add(started.workerPid().orElseThrow());
            }
            for (int i = 0; i < guests; i++) {
                awaitReady(dir.resolve("state/vms/g" + i + "/serial.log"));
            }
            System.out.printf("%d guests ready; letting them settle%n", guests);
            Thread.sleep(5000);
            AtomicLong samples = new AtomicLong();
            engine.counters().addListener(s -> samples.incrementAndGet());
            for (int i = 0; i < 200; i++) { // JIT warm-up, and the balloon's polling switched on
                engine.counters().roundAndWait();
            }
            int rounds = 1000;
            long vmSamplesBefore = samples.get();
            Cost sampling = cost(workers, () -> {
                for (int i = 0; i < rounds; i++) {
                    engine.counters().roundAndWait();
                }
            });
            long vmSamples = samples.get() - vmSamplesBefore - rounds; // less the host's, one a round
            Cost idle = cost(workers, () -> Thread.sleep(Math.max(1, (long) (sampling.wallSeconds() * 1000))));
            double jvmPerSample = (sampling.jvmSeconds() - idle.jvmSeconds()) / vmSamples;
            double qemuPerSample = (sampling.qemuMainSeconds() - idle.qemuMainSeconds()) / vmSamples;
            System.out.println();
            System.out.printf("sampler: %d rounds over %d guests, %d VM samples in %.2f s (%.2f ms a round)%n", rounds,
                    guests, vmSamples, sampling.wallSeconds(), sampling.wallSeconds() * 1000 / rounds);
            System.out.printf("  engine (this JVM) CPU per VM sample:         %7.1f us  (idle baseline subtracted: %.3f s of %.3f s)%n",
                    jvmPerSample * 1e6, idle.jvmSeconds(), sampling.jvmSeconds());
            System.out.printf("  worker main thread (QMP) CPU per VM sample:  %7.1f us%n", qemuPerSample * 1e6);
            System.out.printf("  at one sample per %d s: %.4f %% of a core per VM in the engine, %.4f %% in its worker;"
                    + " 1,000 VMs: %.3f cores%n", PERIOD.toSeconds(), 100 * jvmPerSample / PERIOD.toSeconds(),
                    100 * qemuPerSample / PERIOD.toSeconds(), 1000 * (jvmPerSample + qemuPerSample) / PERIOD.toSeconds());
            int reads = 100_000;
            String port = VirtualSwitches.portName("g0", 0);
            long t0 = System.nanoTime();
            long sink = 0;
            for (int i = 0; i < reads; i++) {
                sink += PortCounters.of(port).orElseThrow().receivePackets();
            }
            double perRead = (System.nanoTime() - t0) / 1e9 / reads;
            System.out.printf("  of which an adapter's port counters (4 sysfs files): %.1f us, %.1f %% of the VM sample (%d)%n",
                    perRead * 1e6, 100 * perRead / jvmPerSample, sink % 10);
            for (int i = 0; i < guests; i++) {
                engine.vms().turnOff("g" + i);
            }
        } finally {
            VirtualSwitches switches = VirtualSwitches.probe();
            if (switches.find(switchId).isPresent()) {
                switches.delete(switchId);
            }
        }
    }

    interface Work {
        void run() throws Exception;
    }

    record Cost(double wallSeconds, double jvmSeconds, double qemuMainSeconds) {
    }

    private static Cost cost(List<Long> workers, Work work) throws Exception {
        long t0 = System.nanoTime();
        double jvm0 = CpuMeter.processSeconds(ProcessHandle.current().pid());
        double qemu0 = mainThreads(workers);
        work.run();
        return new Cost((System.nanoTime() - t0) / 1e9, CpuMeter.processSeconds(ProcessHandle.current().pid()) - jvm0,
                mainThreads(workers) - qemu0);
    }

    /** CPU seconds of each worker's main thread (its PID's own task), where QEMU's main loop answers QMP. */
    private static double mainThreads(List<Long> workers) {
        return workers.stream().mapToDouble(pid -> ProcessStat.ofThread(pid, pid).map(ProcessStat::cpuTicks).orElse(0L)
                / (double) ProcessStat.TICKS_PER_SECOND).sum();
    }

    private static void awaitReady(Path serial) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (!(Files.exists(serial) && Files.readString(serial).contains("HYPERVISE-READY"))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no HYPERVISE-READY in " + serial);
            }
            Thread.sleep(200);
        }
    }

    // ---------------------------------------------------------------- the database

    private static final List<String> VM_SERIES = List.of("cpu", "vcpu.0", "memory.resident", "memory.guest.total",
            "memory.guest.available", "disk.disk0.read-bytes", "disk.disk0.write-bytes", "disk.disk0.read-ops",
            "disk.disk0.write-ops");
    private static final List<String> HOST_SERIES = List.of("cpu", "memory.used", "memory.total", "load.1", "load.5",
            "load.15", "storage.free", "storage.total");

    private static void database(Path dir, Path jar, int vms, int periods) throws Exception {
        Files.createDirectories(dir);
        try (BenchServer server = BenchServer.start(jar, dir, "http://127.0.0.1:9/realms/none",
                List.of("-Dhypervise.counters.enabled=false"))) {
            BenchServer.Database db = server.database();
            CpuMeter meter = new CpuMeter(server.pid(), db.postmasterPid());
            try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.appUser(), db.appPassword())) {
                // Simulated time, two days ahead, so that whole hours and minutes are written.
                Instant t0 = Instant.now().plus(Duration.ofDays(2)).truncatedTo(java.time.temporal.ChronoUnit.HOURS);
                call(c, "SELECT counter_partitions_create('counter_samples', ?, ?)", t0, t0.plus(PERIOD.multipliedBy(periods)));
                call(c, "SELECT counter_partitions_create('counter_minutes', ?, ?)", t0, t0.plus(PERIOD.multipliedBy(periods)));
                int vmLayout = layout(c, VM_SERIES);
                int hostLayout = layout(c, HOST_SERIES);
                long wal0 = walBytes(c);
                Random random = new Random(42);
                List<Double> millis = new ArrayList<>();
                double pgCpu = 0;
                for (int p = 0; p < periods; p++) {
                    String data = period(t0.plus(PERIOD.multipliedBy(p)), vms, vmLayout, hostLayout, random);
                    CpuMeter.Sample a = meter.sample();
                    long start = System.nanoTime();
                    c.unwrap(PGConnection.class).getCopyAPI()
                            .copyIn("COPY counter_samples (target, at, layout, seconds, v) FROM STDIN", new StringReader(data));
                    millis.add((System.nanoTime() - start) / 1e6);
                    pgCpu += meter.sample().postgres() - a.postgres();
                }
                long wal = walBytes(c) - wal0;
                long stored = size(c, "counter_samples");
                long rows = (long) periods * (vms + 1);
                millis.sort(Double::compare);
                System.out.println();
                System.out.printf("database: %d periods of %d VMs + the host (%d rows each, one COPY each), PostgreSQL %s%n",
                        periods, vms, vms + 1, version(c));
                System.out.printf("  COPY per period: median %.1f ms, p95 %.1f ms, max %.1f ms%n", millis.get(millis.size() / 2),
                        millis.get((int) (millis.size() * 0.95)), millis.getLast());
                System.out.printf("  PostgreSQL CPU per period: %.1f ms = %.2f %% of one core at one period per %d s%n",
                        1000 * pgCpu / periods, 100 * pgCpu / periods / PERIOD.toSeconds(), PERIOD.toSeconds());
                System.out.printf("  WAL per period: %.0f KiB; stored (table + index): %.0f bytes a row, %.2f GiB a day"
                        + " at %d VMs every %d s%n", wal / 1024.0 / periods, (double) stored / rows,
                        (double) stored / rows * (vms + 1) * (86400 / PERIOD.toSeconds()) / (1 << 30), vms, PERIOD.toSeconds());

                Instant until = t0.plus(PERIOD.multipliedBy(periods)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
                long minutes = Duration.between(t0, until).toMinutes();
                CpuMeter.Sample a = meter.sample();
                long start = System.nanoTime();
                long rolled = count(c, "SELECT counter_roll_up_minutes(?, ?)", t0, until);
                double rollMs = (System.nanoTime() - start) / 1e6;
                double rollCpu = meter.sample().postgres() - a.postgres();
                System.out.printf("  minute rollup of %d minutes: %d rows in %.0f ms (%.1f ms and %.1f ms of CPU per minute"
                        + " rolled up)%n", minutes, rolled, rollMs, rollMs / Math.max(1, minutes), 1000 * rollCpu / Math.max(1, minutes));

                String hour = "counter_samples_h" + java.time.format.DateTimeFormatter.ofPattern("yyyyMMddHH", Locale.ROOT)
                        .withZone(java.time.ZoneOffset.UTC).format(t0);
                long partitionBytes = size(c, "counter_samples");
                start = System.nanoTime();
                List<String> dropped = names(c, "SELECT counter_partitions_expire('counter_samples', ?, interval '1 hour')",
                        t0.plus(Duration.ofHours(2)));
                System.out.printf("  expiry: dropped %s (%.0f MiB in all) in %.1f ms%n", dropped, partitionBytes / 1048576.0,
                        (System.nanoTime() - start) / 1e6);
                if (!dropped.contains(hour)) {
                    throw new IllegalStateException("expected " + hour + " to be dropped; dropped " + dropped);
                }
            }
        }
    }

    /** One period's COPY text, in the server's format (CounterStore). */
    private static String period(Instant at, int vms, int vmLayout, int hostLayout, Random random) {
        StringBuilder out = new StringBuilder(vms * 140);
        for (int i = 0; i < vms; i++) {
            out.append("vm:bench-").append(i).append('\t').append(at).append('\t').append(vmLayout).append("\t5.0\t{");
            float cpu = random.nextFloat();
            out.append(cpu * 1.05f).append(',').append(cpu).append(',').append(2.7e8f + random.nextInt(1 << 20)).append(',')
                    .append(2.4e8f).append(',').append(1.9e8f - random.nextInt(1 << 24)).append(',')
                    .append(random.nextInt(1 << 16)).append(',').append(random.nextInt(1 << 20)).append(',')
                    .append(random.nextInt(16)).append(',').append(random.nextInt(256)).append("}\n");
        }
        out.append("host:bench\t").append(at).append('\t').append(hostLayout)
                .append("\t5.0\t{1.2,1.2e10,2.5e10,1.1,1.0,0.9,5.2e10,2.5e11}\n");
        return out.toString();
    }

    private static int layout(Connection c, List<String> names) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO counter_layouts (names) VALUES (?)"
                + " ON CONFLICT (names) DO UPDATE SET names = EXCLUDED.names RETURNING id")) {
            s.setArray(1, c.createArrayOf("text", names.toArray()));
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static void call(Connection c, String sql, Instant a, Instant b) throws SQLException {
        names(c, sql, a, b);
    }

    private static List<String> names(Connection c, String sql, Instant... times) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < times.length; i++) {
                s.setTimestamp(i + 1, Timestamp.from(times[i]));
            }
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    private static long count(Connection c, String sql, Instant a, Instant b) throws SQLException {
        return Long.parseLong(names(c, sql, a, b).getFirst());
    }

    private static long walBytes(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long size(Connection c, String parent) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = '"
                        + parent + "'::regclass")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String version(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW server_version")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
