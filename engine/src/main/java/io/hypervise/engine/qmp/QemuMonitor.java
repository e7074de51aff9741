package io.hypervise.engine.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The QEMU commands the engine sends, typed: callers write {@code monitor.stop()}, never a QMP command
 * name, and get replies as records. The command names, their arguments and the shape of their replies
 * are QMP's (https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html) and stay in this package.
 *
 * <p>Every command goes through a {@link Channel}: {@link #over} sends on a {@link QmpClient} within a
 * timeout; the VM service passes its own, which refuses commands to a worker that does not answer.
 */
public final class QemuMonitor {

    /** Sends one command and returns its reply ({@code return} member); each send is bounded by a timeout. */
    @FunctionalInterface
    public interface Channel {
        JsonNode execute(String command, ObjectNode arguments) throws InterruptedException;
    }

    /** What QEMU says the guest is doing ({@code query-status}). */
    public record RunStatus(String status) {

        /** Whether the guest's vCPUs run; every other status (paused, prelaunch, inmigrate, …) means they do not. */
        public boolean running() {
            return status.equals("running");
        }
    }

    /**
     * How a migration (a save, a restore or a live migration) stands ({@code query-migrate}). The times are QEMU's
     * own measurements in milliseconds (0 until it has them): {@code downtime} is how long the guest was stopped
     * for the switch-over, known once the migration has completed; the RAM figures are bytes.
     */
    public record MigrationInfo(String status, Optional<String> error, long totalTimeMillis, long downtimeMillis,
            long setupTimeMillis, long ramTransferred, long ramRemaining, long ramTotal) {

        public MigrationInfo(String status, Optional<String> error) {
            this(status, error, 0, 0, 0, 0, 0, 0);
        }

        public boolean completed() {
            return status.equals("completed");
        }

        /** Failed or cancelled: it will not complete. */
        public boolean failed() {
            return status.equals("failed") || status.equals("cancelled");
        }
    }

    /** A disk's cumulative counters since its worker started ({@code query-blockstats}). */
    public record BlockStats(long readBytes, long writeBytes, long readOps, long writeOps) {
    }

    /** The guest's memory as its balloon driver last reported it. */
    public record BalloonStats(long totalBytes, long availableBytes) {
    }

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** A statistic the guest has not reported is all ones (-1 as an unsigned 64-bit number). */
    private static final long NOT_REPORTED = -1L;

    private final Channel channel;

    public QemuMonitor(Channel channel) {
        this.channel = channel;
    }

    /** Commands sent on {@code client}, each answered within {@code timeout}. */
    public static QemuMonitor over(QmpClient client, Duration timeout) {
        return new QemuMonitor((command, arguments) -> client.execute(command, arguments, timeout));
    }

    /** Pauses the guest's vCPUs. */
    public void stop() throws InterruptedException {
        channel.execute("stop", null);
    }

    /** Resumes the guest's vCPUs (also: starts a worker launched paused). */
    public void cont() throws InterruptedException {
        channel.execute("cont", null);
    }

    /** Resets the machine, like its reset button. */
    public void systemReset() throws InterruptedException {
        channel.execute("system_reset", null);
    }

    /** Presses the ACPI power button; the guest decides what to do. */
    public void systemPowerdown() throws InterruptedException {
        channel.execute("system_powerdown", null);
    }

    /** Asks QEMU to exit (flushing disk caches); it often closes the connection before it answers. */
    public void quit() throws InterruptedException {
        channel.execute("quit", null);
    }

    public RunStatus queryStatus() throws InterruptedException {
        return new RunStatus(channel.execute("query-status", null).path("status").asText(""));
    }

    /** A background job as QEMU reports it ({@code query-jobs}): its status and, once concluded, its error if it failed. */
    public record JobInfo(String id, String status, Optional<String> error) {

        public boolean concluded() {
            return status.equals("concluded") || status.equals("null");
        }
    }

    /**
     * Begins saving an internal snapshot {@code tag} (memory and device state into {@code vmstateNode}, the
     * disks' data in each of {@code nodes}) as job {@code jobId}; the guest is stopped while it runs.
     */
    public void snapshotSave(String jobId, String tag, String vmstateNode, List<String> nodes) throws InterruptedException {
        channel.execute("snapshot-save", snapshotArguments(jobId, tag, nodes).put("vmstate", vmstateNode));
    }

    /** Begins loading internal snapshot {@code tag} (disks, memory and device state) as job {@code jobId}. */
    public void snapshotLoad(String jobId, String tag, String vmstateNode, List<String> nodes) throws InterruptedException {
        channel.execute("snapshot-load", snapshotArguments(jobId, tag, nodes).put("vmstate", vmstateNode));
    }

    /** Begins deleting internal snapshot {@code tag} from each of {@code nodes} as job {@code jobId}. */
    public void snapshotDelete(String jobId, String tag, List<String> nodes) throws InterruptedException {
        channel.execute("snapshot-delete", snapshotArguments(jobId, tag, nodes));
    }

    private static ObjectNode snapshotArguments(String jobId, String tag, List<String> nodes) {
        ObjectNode arguments = NODES.objectNode().put("job-id", jobId).put("tag", tag);
        nodes.forEach(arguments.putArray("devices")::add);
        return arguments;
    }

    /** The memory and device state an internal snapshot keeps in a node, in bytes; 0 if it keeps none there. */
    public long snapshotStateBytes(String node, String tag) throws InterruptedException {
        for (JsonNode info : channel.execute("query-named-block-nodes", NODES.objectNode().put("flat", true))) {
            if (!info.path("node-name").asText().equals(node)) {
                continue;
            }
            for (JsonNode snapshot : info.path("image").path("snapshots")) {
                if (snapshot.path("name").asText().equals(tag)) {
                    return snapshot.path("vm-state-size").asLong(0);
                }
            }
        }
        return 0;
    }

    /** The job of this id, if QEMU still has it. */
    public Optional<JobInfo> queryJob(String jobId) throws InterruptedException {
        for (JsonNode job : channel.execute("query-jobs", null)) {
            if (job.path("id").asText().equals(jobId)) {
                return Optional.of(new JobInfo(jobId, job.path("status").asText(""),
                        job.hasNonNull("error") ? Optional.of(job.path("error").asText()) : Optional.empty()));
            }
        }
        return Optional.empty();
    }

    /** Removes a concluded job from QEMU's list. */
    public void jobDismiss(String jobId) throws InterruptedException {
        channel.execute("job-dismiss", NODES.objectNode().put("id", jobId));
    }

    /** Opens a block node described as {@code -blockdev} would take it (a JSON object). */
    public void blockdevAdd(ObjectNode node) throws InterruptedException {
        channel.execute("blockdev-add", node);
    }

    /** Closes a block node no device uses any more. */
    public void blockdevDel(String node) throws InterruptedException {
        channel.execute("blockdev-del", NODES.objectNode().put("node-name", node));
    }

    /**
     * Opens the tray of removable-media device {@code deviceId} at once, even if the guest has locked it (as a
     * mounted CD-ROM's is): the user asked to change the medium, not the guest.
     */
    public void openTray(String deviceId) throws InterruptedException {
        channel.execute("blockdev-open-tray", NODES.objectNode().put("id", deviceId).put("force", true));
    }

    /** Closes the tray of removable-media device {@code deviceId}; the guest sees what is in it, if anything. */
    public void closeTray(String deviceId) throws InterruptedException {
        channel.execute("blockdev-close-tray", NODES.objectNode().put("id", deviceId));
    }

    /** Takes the medium out of the open tray of device {@code deviceId}; its block node stays open until deleted. */
    public void removeMedium(String deviceId) throws InterruptedException {
        channel.execute("blockdev-remove-medium", NODES.objectNode().put("id", deviceId));
    }

    /** Puts block node {@code node} (opened with {@link #blockdevAdd}) into the open, empty tray of device {@code deviceId}. */
    public void insertMedium(String deviceId, String node) throws InterruptedException {
        channel.execute("blockdev-insert-medium", NODES.objectNode().put("id", deviceId).put("node-name", node));
    }

    /** The names of the worker's named block nodes (the ones Hypervise named, and any QEMU named itself). */
    public List<String> blockNodeNames() throws InterruptedException {
        JsonNode nodes = channel.execute("query-named-block-nodes", NODES.objectNode().put("flat", true));
        List<String> names = new ArrayList<>();
        nodes.forEach(n -> names.add(n.path("node-name").asText()));
        return names;
    }

    /**
     * Plugs a device in (into {@code bus}, a hot-plug port): {@code driver} with its id and properties. It goes in the
     * port's slot 0, the only one a PCI Express port has: a port that holds a device already refuses it (without the
     * address QEMU would take the next slot, which the guest never looks at).
     */
    public void deviceAdd(String driver, String id, String bus, Map<String, String> properties) throws InterruptedException {
        ObjectNode arguments = NODES.objectNode().put("driver", driver).put("id", id).put("bus", bus).put("addr", "0");
        properties.forEach(arguments::put);
        channel.execute("device_add", arguments);
    }

    /**
     * A vCPU slot of the machine ({@code query-hotpluggable-cpus}): the CPU type to plug into it and the topology
     * properties that name it (socket-id, core-id, thread-id, …), and the QOM path of the vCPU in it, empty while
     * it is free.
     */
    public record CpuSlot(String type, Map<String, Long> props, Optional<String> qomPath) {

        public boolean present() {
            return qomPath.isPresent();
        }
    }

    /** Topology properties in the order QEMU numbers vCPU slots: the machine's slots sorted by them are in slot order. */
    private static final List<String> TOPOLOGY = List.of("node-id", "drawer-id", "book-id", "socket-id", "die-id",
            "cluster-id", "core-id", "thread-id");

    /** The machine's vCPU slots, in slot order (the order of the vCPUs' indexes), present or free. */
    public List<CpuSlot> cpuSlots() throws InterruptedException {
        return cpuSlots(channel.execute("query-hotpluggable-cpus", null));
    }

    static List<CpuSlot> cpuSlots(JsonNode reply) {
        List<CpuSlot> slots = new ArrayList<>();
        for (JsonNode cpu : reply) {
            Map<String, Long> props = new LinkedHashMap<>();
            for (String key : TOPOLOGY) {
                if (cpu.path("props").has(key)) {
                    props.put(key, cpu.path("props").path(key).asLong());
                }
            }
            slots.add(new CpuSlot(cpu.path("type").asText(), props,
                    cpu.hasNonNull("qom-path") ? Optional.of(cpu.path("qom-path").asText()) : Optional.empty()));
        }
        slots.sort((a, b) -> {
            for (String key : TOPOLOGY) {
                int c = Long.compare(a.props().getOrDefault(key, 0L), b.props().getOrDefault(key, 0L));
                if (c != 0) {
                    return c;
                }
            }
            return 0;
        });
        return slots;
    }

    /** Plugs a vCPU into a free slot: the guest is told through ACPI and brings it online (or not). */
    public void cpuAdd(CpuSlot slot, String id) throws InterruptedException {
        ObjectNode arguments = NODES.objectNode().put("driver", slot.type()).put("id", id);
        slot.props().forEach(arguments::put);
        channel.execute("device_add", arguments);
    }

    /** Creates {@code bytes} of guest RAM as memory backend {@code id}, for a DIMM to hold. */
    public void memoryBackendAdd(String id, long bytes) throws InterruptedException {
        channel.execute("object-add", NODES.objectNode().put("qom-type", "memory-backend-ram").put("id", id).put("size", bytes));
    }

    /** Plugs a DIMM holding memory backend {@code memdev} into a free slot: the guest is told through ACPI. */
    public void dimmAdd(String id, String memdev) throws InterruptedException {
        channel.execute("device_add", NODES.objectNode().put("driver", "pc-dimm").put("id", id).put("memdev", memdev));
    }

    /** Deletes an object (a memory backend) that no device uses. */
    public void objectDel(String id) throws InterruptedException {
        channel.execute("object-del", NODES.objectNode().put("id", id));
    }

    /** Opens a network backend ({@code netdev_add}): {@code arguments} has its type, id and the type's options. */
    public void netdevAdd(ObjectNode arguments) throws InterruptedException {
        channel.execute("netdev_add", arguments);
    }

    /** Closes a network backend no device uses any more. */
    public void netdevDel(String id) throws InterruptedException {
        channel.execute("netdev_del", NODES.objectNode().put("id", id));
    }

    /** Asks the guest to let go of a device (by id or QOM path); it is gone when QEMU says DEVICE_DELETED. */
    public void deviceDel(String id) throws InterruptedException {
        channel.execute("device_del", NODES.objectNode().put("id", id));
    }

    /** Grows a disk of the running guest (its format node) to {@code bytes}; the guest is told. */
    public void blockResize(String node, long bytes) throws InterruptedException {
        channel.execute("block_resize", NODES.objectNode().put("node-name", node).put("size", bytes));
    }

    /**
     * Limits a disk device's I/O, as a member of throttle {@code group}: every disk in the group shares the
     * limits, the last ones set. Zero for both takes the disk out of the group, unlimited.
     */
    public void setIoThrottle(String deviceId, long bytesPerSecond, long iops, String group) throws InterruptedException {
        ObjectNode arguments = NODES.objectNode().put("id", deviceId)
                .put("bps", bytesPerSecond).put("bps_rd", 0).put("bps_wr", 0)
                .put("iops", iops).put("iops_rd", 0).put("iops_wr", 0);
        if (bytesPerSecond > 0 || iops > 0) {
            arguments.put("group", group);
        }
        channel.execute("block_set_io_throttle", arguments);
    }

    /** Asks the guest, through its virtio balloon, to keep {@code bytes} of memory and hand back the rest. */
    public void balloon(long bytes) throws InterruptedException {
        channel.execute("balloon", NODES.objectNode().put("value", bytes));
    }

    /** Limits how fast a migration may go, in bytes per second. */
    public void migrateSetMaxBandwidth(long bytesPerSecond) throws InterruptedException {
        channel.execute("migrate-set-parameters", NODES.objectNode().put("max-bandwidth", bytesPerSecond));
    }

    /** Streams the VM's state to a unix socket someone listens on. */
    public void migrate(Path unixSocket) throws InterruptedException {
        channel.execute("migrate", NODES.objectNode().put("uri", "unix:" + unixSocket));
    }

    /** Has a worker started with {@code -incoming defer} load the VM's state from a unix socket. */
    public void migrateIncoming(Path unixSocket) throws InterruptedException {
        channel.execute("migrate-incoming", NODES.objectNode().put("uri", "unix:" + unixSocket));
    }

    public void migrateCancel() throws InterruptedException {
        channel.execute("migrate_cancel", null);
    }

    public MigrationInfo queryMigrate() throws InterruptedException {
        return migrationInfo(channel.execute("query-migrate", null));
    }

    static MigrationInfo migrationInfo(JsonNode info) {
        JsonNode ram = info.path("ram");
        return new MigrationInfo(info.path("status").asText(""),
                info.has("error-desc") ? Optional.of(info.get("error-desc").asText()) : Optional.empty(),
                info.path("total-time").asLong(0), info.path("downtime").asLong(0), info.path("setup-time").asLong(0),
                ram.path("transferred").asLong(0), ram.path("remaining").asLong(0), ram.path("total").asLong(0));
    }

    // ---------------------------------------------------------------- live migration

    /**
     * Sets how fast a live migration may send (bytes per second) and how long the guest may be stopped for the
     * switch-over (QEMU's {@code downtime-limit}, in milliseconds): it keeps copying dirtied memory until what is
     * left can go within that time.
     */
    public void migrateSetLimits(long bytesPerSecond, long downtimeLimitMillis) throws InterruptedException {
        channel.execute("migrate-set-parameters", NODES.objectNode().put("max-bandwidth", bytesPerSecond)
                .put("downtime-limit", downtimeLimitMillis));
    }

    /** Sends the VM's state, live, to a worker waiting for it ({@link #migrateIncomingTcp}) at host:port. */
    public void migrateTcp(String host, int port) throws InterruptedException {
        channel.execute("migrate", NODES.objectNode().put("uri", "tcp:" + tcpHost(host) + ":" + port));
    }

    /** Has a worker started with {@code -incoming defer} listen on host:port for a live migration's state. */
    public void migrateIncomingTcp(String host, int port) throws InterruptedException {
        channel.execute("migrate-incoming", NODES.objectNode().put("uri", "tcp:" + tcpHost(host) + ":" + port));
    }

    private static String tcpHost(String host) {
        return host.contains(":") ? "[" + host + "]" : host;
    }

    /** Starts the worker's NBD server on host:port (QMP {@code nbd-server-start}, a legacy socket address). */
    public void nbdServerStart(String host, int port) throws InterruptedException {
        ObjectNode arguments = NODES.objectNode();
        arguments.putObject("addr").put("type", "inet").putObject("data").put("host", host).put("port",
                Integer.toString(port));
        channel.execute("nbd-server-start", arguments);
    }

    /** Stops the worker's NBD server; what is still exported is no longer reachable. */
    public void nbdServerStop() throws InterruptedException {
        channel.execute("nbd-server-stop", null);
    }

    /** Exports block node {@code node} over the worker's NBD server as {@code name} (export id {@code id}). */
    public void nbdExportAdd(String id, String node, String name, boolean writable) throws InterruptedException {
        channel.execute("block-export-add", NODES.objectNode().put("type", "nbd").put("id", id).put("node-name", node)
                .put("name", name).put("writable", writable));
    }

    /** Withdraws an export; QEMU finishes the requests in flight and then lets it go. */
    public void nbdExportDel(String id) throws InterruptedException {
        channel.execute("block-export-del", NODES.objectNode().put("id", id));
    }

    /** Opens, as block node {@code node}, export {@code export} of the NBD server at host:port. */
    public void blockdevAddNbd(String node, String host, int port, String export) throws InterruptedException {
        ObjectNode arguments = NODES.objectNode().put("driver", "nbd").put("node-name", node).put("export", export);
        arguments.putObject("server").put("type", "inet").put("host", host).put("port", Integer.toString(port));
        channel.execute("blockdev-add", arguments);
    }

    /**
     * Starts job {@code jobId} copying everything the guest sees of node {@code device} to node {@code target}, and
     * from then on each guest write to both before it completes ({@code copy-mode=write-blocking}): once the job
     * is ready the target stays in step, so stopping the guest leaves nothing to copy. The job stays listed when it
     * ends ({@code auto-dismiss=false}) so that its error can be read.
     */
    public void blockdevMirror(String jobId, String device, String target) throws InterruptedException {
        channel.execute("blockdev-mirror", NODES.objectNode().put("job-id", jobId).put("device", device)
                .put("target", target).put("sync", "full").put("copy-mode", "write-blocking")
                .put("auto-dismiss", false));
    }

    /**
     * Ends a block job: a ready mirror, without {@code force}, completes with the target a copy of the source at
     * that moment and the guest left on its source; with {@code force}, any job is abandoned at once.
     */
    public void blockJobCancel(String jobId, boolean force) throws InterruptedException {
        channel.execute("block-job-cancel", NODES.objectNode().put("device", jobId).put("force", force));
    }

    /** A job's status (created, running, ready, concluded, …), how far it is, and its error once it failed. */
    public record JobProgress(String id, String status, long current, long total, Optional<String> error) {

        public boolean ready() {
            return status.equals("ready");
        }

        public boolean concluded() {
            return status.equals("concluded") || status.equals("null");
        }
    }

    /** Every job the worker has ({@code query-jobs}), by id. */
    public Map<String, JobProgress> jobs() throws InterruptedException {
        return jobs(channel.execute("query-jobs", null));
    }

    static Map<String, JobProgress> jobs(JsonNode list) {
        Map<String, JobProgress> jobs = new LinkedHashMap<>();
        for (JsonNode job : list) {
            String id = job.path("id").asText();
            jobs.put(id, new JobProgress(id, job.path("status").asText(""), job.path("current-progress").asLong(0),
                    job.path("total-progress").asLong(0),
                    job.hasNonNull("error") ? Optional.of(job.path("error").asText()) : Optional.empty()));
        }
        return jobs;
    }

    /** The size the guest sees of each block node, by node name ({@code query-named-block-nodes}). */
    public Map<String, Long> virtualSizes() throws InterruptedException {
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (JsonNode info : channel.execute("query-named-block-nodes", NODES.objectNode().put("flat", true))) {
            sizes.put(info.path("node-name").asText(), info.path("image").path("virtual-size").asLong(0));
        }
        return sizes;
    }

    /** The host thread of each vCPU, in vCPU order ({@code query-cpus-fast}). */
    public List<Long> vcpuThreads() throws InterruptedException {
        return vcpuThreads(channel.execute("query-cpus-fast", null));
    }

    /** Counters of the disks the engine named (disk0, disk1, …, cdrom0), by node name. */
    public Map<String, BlockStats> blockStats() throws InterruptedException {
        return blockStats(channel.execute("query-blockstats", null));
    }

    /** Has the virtio balloon with this device id ask the guest for its memory statistics every so often. */
    public void pollBalloonStats(String balloonId, long everySeconds) throws InterruptedException {
        channel.execute("qom-set", NODES.objectNode().put("path", peripheral(balloonId))
                .put("property", "guest-stats-polling-interval").put("value", everySeconds));
    }

    /** What the guest last reported through its balloon; empty while it has reported nothing. */
    public Optional<BalloonStats> balloonStats(String balloonId) throws InterruptedException {
        return balloonStats(channel.execute("qom-get", NODES.objectNode().put("path", peripheral(balloonId))
                .put("property", "guest-stats")));
    }

    private static String peripheral(String deviceId) {
        return "/machine/peripheral/" + deviceId;
    }

    static List<Long> vcpuThreads(JsonNode cpus) {
        List<JsonNode> sorted = new ArrayList<>();
        cpus.forEach(sorted::add);
        sorted.sort((a, b) -> Integer.compare(a.path("cpu-index").asInt(), b.path("cpu-index").asInt()));
        return sorted.stream().map(c -> c.path("thread-id").asLong()).toList();
    }

    static Map<String, BlockStats> blockStats(JsonNode blockstats) {
        Map<String, BlockStats> disks = new LinkedHashMap<>();
        for (JsonNode device : blockstats) {
            String node = device.path("node-name").asText("");
            if (node.isEmpty()) {
                continue;
            }
            JsonNode s = device.path("stats");
            disks.put(node, new BlockStats(s.path("rd_bytes").asLong(), s.path("wr_bytes").asLong(),
                    s.path("rd_operations").asLong(), s.path("wr_operations").asLong()));
        }
        return disks;
    }

    static Optional<BalloonStats> balloonStats(JsonNode guestStats) {
        JsonNode stats = guestStats.path("stats");
        long total = stats.path("stat-total-memory").asLong(NOT_REPORTED);
        long available = stats.path("stat-available-memory").asLong(NOT_REPORTED);
        if (available == NOT_REPORTED) {
            available = stats.path("stat-free-memory").asLong(NOT_REPORTED);
        }
        if (guestStats.path("last-update").asLong(0) == 0 || total == NOT_REPORTED || available == NOT_REPORTED) {
            return Optional.empty();
        }
        return Optional.of(new BalloonStats(total, available));
    }
}
