package io.hypervise.engine.vm;

import io.hypervise.engine.qmp.QemuMonitor;
import io.hypervise.engine.qmp.QemuMonitor.JobProgress;
import io.hypervise.engine.qmp.QemuMonitor.MigrationInfo;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.worker.Worker;
import io.hypervise.engine.vm.worker.WorkerPhase;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * Live migration through QEMU, in the order libvirt and Proxmox use: the target's worker is started paused with
 * {@code -incoming defer} and exports its fresh, empty local disks over NBD; the source mirrors each local disk
 * there while the guest runs ({@code blockdev-mirror}, write-blocking once in step), then streams its memory
 * ({@code migrate}); once QEMU has stopped the guest and sent the rest, the mirrors are completed and the target is
 * handed the guest. Until then the source can take it back: any failure or a cancel cancels the migration and the
 * jobs and resumes the guest where it was. Every method expects the VM's lock to be held by the caller.
 */
final class Migrations {

    /** Block nodes, jobs and exports a migration makes are named with this prefix; nothing else is. */
    private static final String PREFIX = "mig-";
    private static final Duration INCOMING_GRACE = Duration.ofSeconds(60);
    private static final Duration JOB_END = Duration.ofSeconds(30);

    private final WorkerSupervisor supervisor;

    Migrations(WorkerSupervisor supervisor) {
        this.supervisor = supervisor;
    }

    // ---------------------------------------------------------------- target

    /**
     * Has the VM's fresh incoming worker export its local disks (positions {@code local}) over NBD and wait for the
     * memory stream; returns where the source must send.
     */
    IncomingEndpoint listen(ManagedVm vm, IncomingOptions options, Set<Integer> local) {
        String host = options.listenAddress();
        int ramPort = options.ramPort() == 0 ? freePort(host) : options.ramPort();
        int nbdPort = 0;
        Map<Integer, String> exports = new TreeMap<>();
        if (!local.isEmpty()) {
            nbdPort = options.nbdPort() == 0 ? freePort(host) : options.nbdPort();
            int port = nbdPort;
            vm.command(m -> m.nbdServerStart(host, port));
            for (int position : new TreeSet<>(local)) {
                String node = vm.definition().disks().get(position).nodeName(position);
                vm.command(m -> m.nbdExportAdd(PREFIX + node, node, node, true));
                exports.put(position, node);
            }
        }
        vm.command(m -> m.migrateIncomingTcp(host, ramPort));
        vm.log("waiting for its memory on " + host + ":" + ramPort
                + (exports.isEmpty() ? "" : " and its disks " + exports.values() + " over NBD on " + host + ":" + nbdPort));
        return new IncomingEndpoint(host, ramPort, nbdPort, exports);
    }

    /**
     * Takes the guest over once its source has sent everything and stopped: waits until this worker has loaded the
     * state, withdraws the NBD exports and resumes the guest (unless it left paused).
     */
    void takeOver(ManagedVm vm, Worker worker, boolean paused) {
        long deadline = System.nanoTime() + INCOMING_GRACE.toNanos();
        while (true) {
            MigrationInfo info = vm.query(QemuMonitor::queryMigrate);
            if (info.completed()) {
                break;
            }
            if (info.failed()) {
                throw new VmOperationException("VM '" + vm.name() + "': its memory did not arrive: migration "
                        + info.status() + info.error().map(e -> " (" + e + ")").orElse(""));
            }
            if (System.nanoTime() > deadline) {
                throw new VmOperationException("VM '" + vm.name() + "': its memory had not all arrived after "
                        + INCOMING_GRACE.toSeconds() + " s (migration " + info.status() + ")");
            }
            sleep(50);
        }
        List<String> exports = new ArrayList<>();
        for (int i = 0; i < vm.definition().disks().size(); i++) {
            exports.add(PREFIX + vm.definition().disks().get(i).nodeName(i));
        }
        stopNbd(vm, exports);
        supervisor.applyResources(vm, worker, vm.definition(), null);
        if (!paused) {
            vm.command(QemuMonitor::cont);
        }
    }

    /** Withdraws the exports this worker has of {@code exports} and stops its NBD server, if it runs one. */
    private static void stopNbd(ManagedVm vm, List<String> exports) {
        for (String export : exports) {
            try {
                vm.command(m -> m.nbdExportDel(export));
            } catch (VmOperationException e) {
                // not exported: a disk on shared storage
            }
        }
        try {
            vm.command(QemuMonitor::nbdServerStop);
        } catch (VmOperationException e) {
            // no NBD server: every disk is on shared storage
        }
    }

    // ---------------------------------------------------------------- source

    /**
     * Sends the VM live to {@code target}: mirrors its local disks, streams its memory, completes the mirrors and
     * calls {@code handOver} (which resumes the guest at the target) before its worker here ends. On any failure,
     * a cancel, or a {@code handOver} that throws, the guest runs on here as it was and the failure is thrown.
     */
    MigrationResult send(ManagedVm vm, IncomingEndpoint target, MigrationOptions options, LongConsumer percent,
            BooleanSupplier cancelled, Runnable handOver) {
        long started = System.nanoTime();
        long deadline = started + options.timeout().toNanos();
        VmState before = vm.state();
        boolean paused = before == VmState.PAUSED;
        Worker worker = vm.worker();
        String where = target.host() + ":" + target.ramPort();
        vm.transition(VmState.MIGRATING, "live migration to " + where + " requested");
        supervisor.recordPhase(vm, vm.record().busyFrom(WorkerPhase.MIGRATING_OUT, paused));
        Progress progress = new Progress(vm, percent, vm.definition().memoryMib() * (1L << 20));
        MigrationInfo done;
        long diskBytes;
        try {
            List<String> jobs = mirror(vm, target);
            diskBytes = awaitMirrors(vm, jobs, progress, cancelled, deadline);
            vm.command(m -> m.migrateSetLimits(options.bandwidthBytesPerSecond(), options.downtimeLimit().toMillis()));
            vm.command(m -> m.migrateTcp(target.host(), target.ramPort()));
            done = awaitMigration(vm, jobs, progress, cancelled, deadline);
            completeMirrors(vm, jobs);
            handOver.run();
        } catch (RuntimeException e) {
            throw abandon(vm, worker, before, e);
        }
        progress.finished();
        long elapsed = (System.nanoTime() - started) / 1_000_000;
        supervisor.end(vm, VmState.OFF, "migrated live to " + where + " (downtime " + done.downtimeMillis() + " ms)");
        return new MigrationResult(done.downtimeMillis(), done.totalTimeMillis(), elapsed, done.ramTransferred(),
                diskBytes, paused, List.of());
    }

    /** Opens each target export and starts a mirror of its disk to it; returns the jobs' ids. */
    private static List<String> mirror(ManagedVm vm, IncomingEndpoint target) {
        List<String> jobs = new ArrayList<>();
        for (Map.Entry<Integer, String> export : new TreeMap<>(target.exports()).entrySet()) {
            List<Disk> disks = vm.definition().disks();
            if (export.getKey() >= disks.size()) {
                throw new VmOperationException("VM '" + vm.name() + "' has no disk " + export.getKey()
                        + " for the target's export '" + export.getValue() + "'");
            }
            String node = disks.get(export.getKey()).nodeName(export.getKey());
            String copy = PREFIX + node;
            vm.command(m -> m.blockdevAddNbd(copy, target.host(), target.nbdPort(), export.getValue()));
            vm.command(m -> m.blockdevMirror(copy, node, copy));
            jobs.add(copy);
        }
        return jobs;
    }

    /** Waits until every mirror is in step with its disk; returns the bytes they copied. */
    private static long awaitMirrors(ManagedVm vm, List<String> jobs, Progress progress, BooleanSupplier cancelled,
            long deadline) {
        while (!jobs.isEmpty()) {
            checkGoing(vm, cancelled, deadline);
            Map<String, JobProgress> now = vm.query(QemuMonitor::jobs);
            long current = 0;
            long total = 0;
            boolean ready = true;
            for (String job : jobs) {
                JobProgress p = checkMirror(vm, now, job);
                current += p.current();
                total += p.total();
                ready &= p.ready();
            }
            progress.disks(current, total);
            if (ready) {
                return total;
            }
            sleep(100);
        }
        return 0;
    }

    /** A mirror that is gone or has ended before it was completed failed: its target went away. */
    private static JobProgress checkMirror(ManagedVm vm, Map<String, JobProgress> now, String job) {
        JobProgress p = now.get(job);
        if (p == null || p.concluded() || p.status().equals("aborting")) {
            String why = p == null ? "it is gone" : p.error().orElse(p.status());
            throw new VmOperationException("VM '" + vm.name() + "': copying disk " + job.substring(PREFIX.length())
                    + " to the target failed: " + why);
        }
        return p;
    }

    /** Polls the memory stream until it completes; a failed one, a mirror that failed, or a cancel is an error. */
    private static MigrationInfo awaitMigration(ManagedVm vm, List<String> jobs, Progress progress,
            BooleanSupplier cancelled, long deadline) {
        while (true) {
            checkGoing(vm, cancelled, deadline);
            MigrationInfo info = vm.query(QemuMonitor::queryMigrate);
            if (info.completed()) {
                return info;
            }
            if (info.failed()) {
                throw new VmOperationException("VM '" + vm.name() + "': its memory could not be sent: migration "
                        + info.status() + info.error().map(e -> " (" + e + ")").orElse(""));
            }
            if (!jobs.isEmpty()) {
                Map<String, JobProgress> now = vm.query(QemuMonitor::jobs);
                jobs.forEach(job -> checkMirror(vm, now, job));
            }
            progress.ram(info.ramTotal(), info.ramRemaining());
            sleep(50);
        }
    }

    /**
     * Ends the mirrors once the guest has stopped for good: a ready mirror cancelled without force completes with its
     * target a copy of the disk (and the guest still on its own disk here); then closes the NBD connections.
     */
    private static void completeMirrors(ManagedVm vm, List<String> jobs) {
        for (String job : jobs) {
            vm.command(m -> m.blockJobCancel(job, false));
        }
        for (String job : jobs) {
            JobProgress end = awaitEnd(vm, job);
            if (end.error().isPresent()) {
                throw new VmOperationException("VM '" + vm.name() + "': the copy of disk " + job.substring(PREFIX.length())
                        + " could not be completed: " + end.error().get());
            }
            vm.command(m -> m.jobDismiss(job));
            vm.command(m -> m.blockdevDel(job));
        }
    }

    private static JobProgress awaitEnd(ManagedVm vm, String job) {
        long deadline = System.nanoTime() + JOB_END.toNanos();
        while (true) {
            JobProgress p = vm.query(QemuMonitor::jobs).get(job);
            if (p == null) {
                return new JobProgress(job, "null", 0, 0, java.util.Optional.empty());
            }
            if (p.concluded()) {
                return p;
            }
            if (System.nanoTime() > deadline) {
                throw new VmOperationException("VM '" + vm.name() + "': job " + job + " did not end within "
                        + JOB_END.toSeconds() + " s (" + p.status() + ")");
            }
            sleep(50);
        }
    }

    private static void checkGoing(ManagedVm vm, BooleanSupplier cancelled, long deadline) {
        if (cancelled.getAsBoolean()) {
            throw new VmOperationException("the live migration of VM '" + vm.name() + "' was cancelled");
        }
        if (System.nanoTime() > deadline) {
            throw new VmOperationException("the live migration of VM '" + vm.name() + "' took too long");
        }
    }

    /** Puts the source back as it was before a failed migration; returns the failure for the caller to throw. */
    private VmOperationException abandon(ManagedVm vm, Worker worker, VmState before, RuntimeException cause) {
        String reason = "live migration failed: " + cause.getMessage();
        if (vm.worker() != worker) {
            return new VmOperationException("VM '" + vm.name() + "': " + reason + "; its worker had ended", cause);
        }
        try {
            abandonOnSource(vm);
            if (before == VmState.RUNNING && !vm.query(QemuMonitor::queryStatus).running()) {
                vm.command(QemuMonitor::cont);
            }
        } catch (VmOperationException e) {
            e.addSuppressed(cause);
            return supervisor.failAndEnd(vm, worker, VmState.OFF, reason + "; the worker then failed too: " + e.getMessage());
        }
        supervisor.recordPhase(vm, vm.record().withPhase(WorkerPhase.SUPERVISED));
        vm.transition(before, reason + "; it runs on here");
        return cause instanceof VmOperationException op && op.getMessage().startsWith("the live migration") ? op
                : new VmOperationException("could not migrate VM '" + vm.name() + "': " + cause.getMessage()
                        + "; it runs on here", cause);
    }

    /**
     * Undoes what a migration started on the source: cancels the memory stream and every mirror, and closes the
     * connections to the target's disks. What was never started is skipped. The guest is left as QEMU left it.
     */
    static void abandonOnSource(ManagedVm vm) {
        vm.command(QemuMonitor::migrateCancel);
        Map<String, JobProgress> jobs = vm.query(QemuMonitor::jobs);
        for (JobProgress job : jobs.values()) {
            if (job.id().startsWith(PREFIX) && !job.concluded()) {
                vm.command(m -> m.blockJobCancel(job.id(), true));
            }
        }
        for (JobProgress job : jobs.values()) {
            if (job.id().startsWith(PREFIX)) {
                awaitEnd(vm, job.id());
                vm.command(m -> m.jobDismiss(job.id()));
            }
        }
        for (String node : vm.query(QemuMonitor::virtualSizes).keySet()) {
            if (node.startsWith(PREFIX)) {
                vm.command(m -> m.blockdevDel(node));
            }
        }
        // QEMU may still be settling the cancelled stream; a new migration or a resume waits for nothing else.
        long deadline = System.nanoTime() + JOB_END.toNanos();
        while (vm.query(QemuMonitor::queryMigrate).status().equals("cancelling") && System.nanoTime() < deadline) {
            sleep(50);
        }
    }

    /** Reports a migration's progress in percent of what there is to send (disks, then memory). */
    private static final class Progress {
        private final ManagedVm vm;
        private final LongConsumer percent;
        private long diskTotal;
        private long diskDone;
        private long memory;
        private long last = -1;

        Progress(ManagedVm vm, LongConsumer percent, long memory) {
            this.vm = vm;
            this.percent = percent;
            this.memory = memory;
        }

        void disks(long current, long total) {
            diskDone = current;
            diskTotal = total;
            report(diskDone);
        }

        /** QEMU reports the guest's RAM and what is left of it once the stream is set up (before: nothing). */
        void ram(long total, long remaining) {
            if (total <= 0) {
                return;
            }
            memory = total;
            report(diskTotal + Math.max(0, total - remaining));
        }

        void finished() {
            last = -1;
            vm.progress(VmAction.MIGRATE, diskTotal + memory, diskTotal + memory);
            percent.accept(100);
        }

        private void report(long done) {
            long total = Math.max(1, diskTotal + memory);
            long now = Math.min(99, done * 100 / total);
            // Dirtied pages are sent again: what is left can grow, but progress shown never goes back.
            if (now > last) {
                last = now;
                vm.progress(VmAction.MIGRATE, done, total);
                percent.accept(now);
            }
        }
    }

    private static int freePort(String host) {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(host))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new VmOperationException("cannot listen for a live migration on " + host + ": " + e.getMessage(), e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("interrupted while waiting for a live migration", e);
        }
    }
}
