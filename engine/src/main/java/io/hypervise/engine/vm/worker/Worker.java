package io.hypervise.engine.vm.worker;

import io.hypervise.engine.qmp.QmpClient;
import io.hypervise.engine.qmp.QmpEvent;
import io.hypervise.engine.qmp.QmpException;
import io.hypervise.engine.qmp.QmpListener;
import io.hypervise.engine.vm.VmState;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * One QEMU process running one VM, and the engine's QMP connection to it.
 *
 * <p>Workers are started in a session of their own ({@code setsid}) with their output in a file, so
 * that they outlive the server: stopping or killing the server (or pressing Ctrl-C in its terminal)
 * never takes the VMs with it. A worker's death is noticed from two sides: the child's exit where this
 * engine started it, and the QMP socket closing for a worker an earlier engine started.
 */
public final class Worker {

    private static final Duration DEATH_CONFIRMATION = Duration.ofSeconds(10);

    private final long pid;
    private final long startTicks;
    private final ProcessHandle handle;
    private final Process child;
    private final VmFiles files;
    private final Path qmpSocket;
    private final CompletableFuture<WorkerExit> exit = new CompletableFuture<>();
    private volatile QmpClient qmp;
    private volatile String shutdownReason;
    private volatile Intent intent;

    /** What the engine expects the worker's end to mean, set before it asks the worker to end. */
    public record Intent(VmState target, String reason) {
    }

    private Worker(ProcessHandle handle, Process child, long startTicks, VmFiles files) {
        this(handle, child, startTicks, files, files.qmpSocket());
    }

    private Worker(ProcessHandle handle, Process child, long startTicks, VmFiles files, Path qmpSocket) {
        this.qmpSocket = qmpSocket;
        this.pid = handle.pid();
        this.handle = handle;
        this.child = child;
        this.startTicks = startTicks;
        this.files = files;
        if (child != null) {
            child.onExit().thenAccept(p -> exit.complete(WorkerExit.ofExitValue(p.exitValue())));
        }
    }

    public static Worker launch(List<String> qemuArgs, VmFiles files) throws IOException {
        List<String> argv = new ArrayList<>();
        argv.add("setsid");
        argv.addAll(qemuArgs);
        Files.createDirectories(files.runDir());
        Process process = new ProcessBuilder(argv)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(files.workerLog().toFile()))
                .redirectErrorStream(true)
                .start();
        long ticks = ProcessIdentity.startTicks(process.pid()).orElse(-1);
        return new Worker(process.toHandle(), process, ticks, files);
    }

    /** The worker described by the record, if that process is alive and is really ours. */
    public static Optional<Worker> adopt(WorkerRecord record, String workerName, VmFiles files) {
        Path socket = files.qmpSocket();
        if (!ProcessIdentity.isWorker(record.pid(), record.startTicks(), record.uid(), workerName, socket)) {
            // A worker an engine started before sockets moved to run/ (its record has no user): still ours.
            socket = files.dir().resolve(socket.getFileName());
            if (record.uid() != null
                    || !ProcessIdentity.isWorker(record.pid(), record.startTicks(), null, workerName, socket)) {
                return Optional.empty();
            }
        }
        try {
            Files.createDirectories(files.runDir()); // where a save's stream goes
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path found = socket;
        return ProcessHandle.of(record.pid()).map(h -> new Worker(h, null, record.startTicks(), files, found));
    }

    /**
     * Connects QMP; events, silences and answers go to {@code supervisor}, and a closed connection
     * starts the death watch.
     */
    public void connect(Duration timeout, QmpListener supervisor) throws QmpException {
        QmpListener listener = new QmpListener() {
            @Override
            public void onEvent(QmpEvent event) {
                if (event.name().equals("SHUTDOWN")) {
                    shutdownReason = event.data().path("reason").asText("unknown");
                }
                supervisor.onEvent(event);
            }

            @Override
            public void onSilent(String command, Duration commandTimeout) {
                supervisor.onSilent(command, commandTimeout);
            }

            @Override
            public void onAnswering() {
                supervisor.onAnswering();
            }

            @Override
            public void onClose(Throwable cause) {
                watchForDeath();
            }
        };
        try {
            this.qmp = QmpClient.connect(qmpSocket, timeout, listener);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while connecting to " + qmpSocket, e);
        }
    }

    public QmpClient qmp() {
        return qmp;
    }

    public long pid() {
        return pid;
    }

    public long startTicks() {
        return startTicks;
    }

    public CompletableFuture<WorkerExit> exit() {
        return exit;
    }

    public boolean isAlive() {
        return !exit.isDone() && handle.isAlive();
    }

    /** Why QEMU reported the machine shut down ("guest-shutdown", "host-qmp-quit", …), if it did. */
    public Optional<String> shutdownReason() {
        return Optional.ofNullable(shutdownReason);
    }

    public void expect(VmState target, String reason) {
        this.intent = new Intent(target, reason);
    }

    public Optional<Intent> intent() {
        return Optional.ofNullable(intent);
    }

    /** Kills the process, after checking that the PID still belongs to this worker. */
    public void kill() {
        if (child != null) {
            child.destroyForcibly();
            return;
        }
        if (ProcessIdentity.startTicks(pid).orElse(-2) == startTicks) {
            handle.destroyForcibly();
        }
    }

    /** Closes the engine's QMP connection without touching the worker, which goes on running. */
    public void detach() {
        QmpClient client = qmp;
        if (client != null) {
            client.close();
        }
    }

    /** The last lines QEMU wrote to its log: where its own error messages are. */
    public String logTail() {
        return String.join(" | ", LogTail.of(files.workerLog(), 3, 4096).stream().filter(l -> !l.isBlank()).toList());
    }

    /** For a worker whose QMP socket is silent: notice its end from the process alone (slower). */
    public void watchWithoutQmp() {
        handle.onExit().thenRun(() -> exit.complete(WorkerExit.unknown()));
    }

    private void watchForDeath() {
        if (child != null || exit.isDone()) {
            return; // a child's exit is observed directly
        }
        Thread.ofVirtual().name("worker-death-watch-" + pid).start(() -> {
            long deadline = System.nanoTime() + DEATH_CONFIRMATION.toNanos();
            while (System.nanoTime() < deadline) {
                if (!handle.isAlive() || ProcessIdentity.startTicks(pid).orElse(-2) != startTicks) {
                    exit.complete(WorkerExit.unknown());
                    return;
                }
                sleep(Duration.ofMillis(20));
            }
            // QMP closed but the process lives on: it is hung or closing slowly; the process handle
            // notices its end eventually.
            handle.onExit().thenRun(() -> exit.complete(WorkerExit.unknown()));
        });
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
