package io.hypervise.bench.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The reference: the tiny-linux guest under a {@code qemu-system-x86_64} command line built by hand (the
 * devices a VM from the template gets: q35, TCG, one vCPU, a virtio disk, an adapter on a user network that
 * reaches nothing, the balloon), its checkpoints taken and applied over QMP the way the engine does it, with
 * only what QMP needs in between. The hotplug bench boots it with the engine's empty hot-plug ports and sends
 * its own commands over {@link #qmp()}.
 */
public final class BareGuest implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration COMMAND = Duration.ofSeconds(10);
    private static final Duration JOB = Duration.ofMinutes(5);

    private final Path disk;
    private final Path serial;
    private final Process qemu;
    private final QmpSocket qmp;
    private int jobs;

    private BareGuest(Path disk, Path serial, Process qemu, QmpSocket qmp) {
        this.disk = disk;
        this.serial = serial;
        this.qemu = qemu;
        this.qmp = qmp;
    }

    /** Makes the disk, starts QEMU and waits until the guest says it is ready on its serial console. */
    static BareGuest boot(TinyLinux template, Path dir, int memoryMib, int diskMib) throws IOException, InterruptedException {
        return boot(template, dir, memoryMib, diskMib, 0);
    }

    /**
     * As {@link #boot(TinyLinux, Path, int, int)}, with {@code hotplugPorts} empty PCI Express root ports for
     * devices added while it runs. With any, the disk sits on a root port of its own and the empty ones come
     * last, {@code hotplug0} (chassis 100) and on, as the engine lays out an enlightened VM
     * ({@code QemuCommandLine}); with none, the disk sits on the root bus, as the checkpoint bench measured it.
     */
    public static BareGuest boot(TinyLinux template, Path dir, int memoryMib, int diskMib, int hotplugPorts)
            throws IOException, InterruptedException {
        Path disk = dir.resolve("disk0.qcow2");
        Path serial = dir.resolve("serial.log");
        Path socket = dir.resolve("qmp.sock");
        run("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), diskMib + "M");
        ObjectNode blockdev = JSON.createObjectNode().put("node-name", "disk0").put("driver", "qcow2").put("read-only", false);
        blockdev.putObject("file").put("driver", "file").put("filename", disk.toString());
        blockdev.putNull("backing");
        List<String> argv = new ArrayList<>(List.of("qemu-system-x86_64",
                "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", Integer.toString(memoryMib),
                "-nodefaults", "-no-user-config", "-display", "none",
                "-serial", "file:" + serial,
                "-qmp", "unix:" + socket + ",server=on,wait=off",
                "-blockdev", blockdev.toString()));
        if (hotplugPorts > 0) {
            argv.addAll(List.of("-device", "pcie-root-port,id=port-disk0,chassis=1", "-device", "virtio-blk-pci,drive=disk0,bus=port-disk0"));
        } else {
            argv.addAll(List.of("-device", "virtio-blk-pci,drive=disk0"));
        }
        argv.addAll(List.of("-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0",
                "-device", "virtio-balloon-pci",
                "-kernel", template.kernel().toString(), "-initrd", template.initramfs().toString(),
                "-append", template.commandLine()));
        for (int k = 0; k < hotplugPorts; k++) {
            argv.addAll(List.of("-device", "pcie-root-port,id=hotplug" + k + ",chassis=" + (100 + k)));
        }
        Process qemu = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(dir.resolve("qemu.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        QmpSocket qmp = null;
        try {
            qmp = QmpSocket.connect(socket, COMMAND);
            awaitReady(serial, qemu);
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (qmp != null) {
                qmp.close();
            }
            qemu.destroyForcibly().waitFor();
            throw e;
        }
        return new BareGuest(disk, serial, qemu, qmp);
    }

    public long pid() {
        return qemu.pid();
    }

    /** Its QMP connection, for commands other than the checkpoints'. */
    public QmpSocket qmp() {
        return qmp;
    }

    /** The file its serial console writes to. */
    public Path serialLog() {
        return serial;
    }

    /** One operation by hand: from its first command to its job's end, and how long the guest was stopped meanwhile. */
    record Timing(double seconds, double stopped) {
    }

    /** {@code snapshot-save} of memory and disk into the disk, from the command to its job's end. */
    Timing take(String tag) throws IOException, InterruptedException {
        qmp.drainSeen();
        long start = System.nanoTime();
        String job = runJob("snapshot-save", tag, true);
        double seconds = (System.nanoTime() - start) / 1e9;
        dismiss(job, tag);
        return new Timing(seconds, stoppedSeconds(qmp.drainSeen()));
    }

    /** As the engine applies one: {@code stop}, {@code snapshot-load} until its job ends, {@code cont}. */
    Timing apply(String tag) throws IOException, InterruptedException {
        qmp.drainSeen();
        long start = System.nanoTime();
        qmp.execute("stop", null, COMMAND);
        String job = runJob("snapshot-load", tag, true);
        qmp.execute("cont", null, COMMAND);
        double seconds = (System.nanoTime() - start) / 1e9;
        dismiss(job, tag);
        return new Timing(seconds, stoppedSeconds(qmp.drainSeen()));
    }

    /** {@code snapshot-delete} until its job ends (the guest runs on). */
    Timing delete(String tag) throws IOException, InterruptedException {
        qmp.drainSeen();
        long start = System.nanoTime();
        String job = runJob("snapshot-delete", tag, false);
        double seconds = (System.nanoTime() - start) / 1e9;
        dismiss(job, tag);
        return new Timing(seconds, stoppedSeconds(qmp.drainSeen()));
    }

    /** The size of the memory and device state QEMU stored with each snapshot (qemu-img's VM SIZE column). */
    String snapshotTable() throws IOException, InterruptedException {
        return run("qemu-img", "snapshot", "-U", "-l", disk.toString());
    }

    /** Starts a snapshot job and waits for its {@code JOB_STATUS_CHANGE} to {@code concluded}; returns its id. */
    private String runJob(String command, String tag, boolean vmstate) throws IOException, InterruptedException {
        String id = command + "-" + (++jobs);
        ObjectNode arguments = JSON.createObjectNode().put("job-id", id).put("tag", tag);
        if (vmstate) {
            arguments.put("vmstate", "disk0");
        }
        arguments.putArray("devices").add("disk0");
        qmp.execute(command, arguments, JOB);
        qmp.awaitEvent(e -> e.path("event").asText().equals("JOB_STATUS_CHANGE")
                && e.path("data").path("id").asText().equals(id)
                && e.path("data").path("status").asText().equals("concluded"), JOB);
        return id;
    }

    /** Asks how a concluded job ended (a failed one concludes too) and dismisses it, as the engine does; untimed. */
    private void dismiss(String id, String tag) throws IOException, InterruptedException {
        for (JsonNode job : qmp.execute("query-jobs", null, COMMAND)) {
            if (job.path("id").asText().equals(id)) {
                qmp.execute("job-dismiss", JSON.createObjectNode().put("id", id), COMMAND);
                if (job.hasNonNull("error")) {
                    throw new IOException(id + " (" + tag + ") failed: " + job.path("error").asText());
                }
            }
        }
    }

    private static double stoppedSeconds(List<JsonNode> events) {
        double stopped = 0;
        Double since = null;
        for (JsonNode event : events) {
            switch (event.path("event").asText()) {
                case "STOP" -> since = QmpSocket.timestamp(event);
                case "RESUME" -> {
                    if (since != null) {
                        stopped += QmpSocket.timestamp(event) - since;
                        since = null;
                    }
                }
                default -> {
                }
            }
        }
        return stopped;
    }

    private static void awaitReady(Path serial, Process qemu) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!Files.exists(serial) || !Files.readString(serial, StandardCharsets.ISO_8859_1).contains(CheckpointBench.READY)) {
            if (!qemu.isAlive()) {
                throw new IOException("QEMU exited (" + qemu.exitValue() + ") before the guest was ready");
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("no " + CheckpointBench.READY + " in " + serial + " within 2 minutes");
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
    }

    /** Runs a command to its end and returns what it printed; one that fails is an exception with its output. */
    public static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    /** Asks QEMU to quit and kills it if it does not; the folder is the caller's to remove. */
    @Override
    public void close() throws IOException, InterruptedException {
        try {
            qmp.execute("quit", null, COMMAND);
        } catch (IOException e) {
            // QEMU often closes the socket before it answers quit; it is killed below if it is still there
        } finally {
            qmp.close();
            if (!qemu.waitFor(5, TimeUnit.SECONDS)) {
                qemu.destroyForcibly().waitFor();
            }
        }
    }
}
