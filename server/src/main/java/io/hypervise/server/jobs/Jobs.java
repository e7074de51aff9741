package io.hypervise.server.jobs;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmEvent;
import io.hypervise.server.access.AccessDeniedException;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.inventory.PageOf;
import io.quarkus.panache.common.Page;
import io.quarkus.panache.common.Sort;
import jakarta.transaction.Transactional;
import io.hypervise.server.api.NotFoundRefusal;
import java.util.HashMap;
import java.util.Optional;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.inventory.CrashPoints;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.vm.VmOperation;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Runs long operations in the background as tracked jobs: recorded when submitted, their progress
 * taken from the engine's progress events, their end (succeeded, or failed with the reason) recorded.
 */
@ApplicationScoped
public class Jobs {

    private static final Logger LOG = Logger.getLogger(Jobs.class);

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    AuditLog audit;

    private final ExecutorService runner = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("job-", 0).factory());
    /**
     * The running job of each VM and action, so engine progress events find their job, with the last
     * percentage recorded: the engine reports every MiB, the database hears only whole-percent steps.
     */
    private final Map<String, RunningJob> running = new ConcurrentHashMap<>();

    private record RunningJob(UUID id, AtomicInteger recorded) {
    }

    @PostConstruct
    void listen() {
        engine.vms().addListener(this::onEngineEvent);
    }

    /**
     * Settles the jobs of this host that were queued or running when its server died: they failed, and
     * say why. (After the inventory's reconcile, so a VM's recorded state is already what its engine found.)
     */
    void onStart(@Observes @Priority(15) StartupEvent event) {
        List<JobEntity> interrupted = QuarkusTransaction.requiringNew().call(() -> {
            List<JobEntity> jobs = JobEntity.list("(hostId = ?1 or hostId is null) and state in ?2", localHost.id(),
                    List.of(JobEntity.State.QUEUED, JobEntity.State.RUNNING));
            Instant now = Instant.now();
            for (JobEntity job : jobs) {
                job.error = "the server of host " + localHost.id() + " stopped while the job was "
                        + job.state.name().toLowerCase(Locale.ROOT) + "; it did not finish"
                        + (job.vmId == null ? "" : ", and the VM is in the state its host found it in at restart");
                job.state = JobEntity.State.FAILED;
                job.updatedAt = now;
            }
            return jobs;
        });
        for (JobEntity job : interrupted) {
            Map<String, Object> parameters = new LinkedHashMap<>();
            parameters.put("job", job.id.toString());
            parameters.put("requestedBy", job.actor);
            // A VM's job is the action the caller's request recorded as REQUESTED: this is its outcome.
            var operation = VmOperation.ofJobKind(job.kind);
            if (job.vmId != null && operation.isPresent()) {
                audit.recordOutcome(Caller.host(), operation.get().auditName(), AuditLog.vm(job.vmId), parameters, job.error);
            } else {
                audit.recordOutcome(Caller.host(), "job.interrupt", "job:" + job.id, parameters, job.error);
            }
            LOG.warnf("job %s (%s of VM %s for %s) was interrupted by the server's death on host %s: marked failed",
                    job.id, job.kind, job.vmId, job.actor, localHost.id());
        }
    }

    /** Jobs newest first that the caller may see (self-service users: their own), of one VM and in one state where given. */
    @Transactional
    public PageOf<JobView> list(Caller caller, Optional<String> vm, Optional<JobEntity.State> state, int page, int size) {
        StringBuilder query = new StringBuilder("1 = 1");
        Map<String, Object> params = new HashMap<>();
        if (caller.reach(Permission.JOB_READ) == Reach.OWN) {
            query.append(" and actor = :me");
            params.put("me", caller.username());
        }
        vm.ifPresent(id -> {
            query.append(" and vmId = :vm");
            params.put("vm", id);
        });
        state.ifPresent(wanted -> {
            query.append(" and state = :state");
            params.put("state", wanted);
        });
        var found = JobEntity.<JobEntity>find(query.toString(), Sort.descending("createdAt").and("id"), params);
        long total = found.count();
        List<JobView> items = found.page(Page.of(page, size)).list().stream().map(JobView::of).toList();
        return new PageOf<>(items, page, size, total);
    }

    /** The job, if the caller may see it; for others it does not exist (404). */
    @Transactional
    public JobView view(Caller caller, String id) {
        UUID uuid = parse(id);
        JobEntity job = uuid == null ? null : JobEntity.findById(uuid);
        if (job == null || !caller.decide(Permission.JOB_READ, job.actor).allowed()) {
            throw new NotFoundRefusal("no job with id '" + id + "'");
        }
        return JobView.of(job);
    }

    private static UUID parse(String id) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** What a job does; it may fail with any exception, whose message becomes the job's error. */
    public interface Work {
        void run() throws Exception;
    }

    /** How far a job that reports its own progress is, and whether it is to stop. */
    public interface Progress {
        /** The percentage done; only increases are recorded, and 100 only when the job succeeds. */
        void percent(long percent);

        /** Whether someone asked for the job to be cancelled: work that can stop checks this, and throws. */
        default boolean cancelRequested() {
            return false;
        }
    }

    /** A running job that may be cancelled: with which permission, and whether that has been asked. */
    private record Cancellation(Permission permission, AtomicBoolean requested) {
    }

    /** The cancellable jobs running here, by id. */
    private final Map<UUID, Cancellation> cancellable = new ConcurrentHashMap<>();

    /** What a job that reports its own progress does. */
    public interface ReportingWork {
        void run(Progress progress) throws Exception;
    }

    /**
     * Records a queued job that is no VM's operation (its {@code kind}, and {@code target}: what it works
     * on) and starts it; the work reports its own progress. {@code onEnd} as for a VM's job.
     */
    public JobView submit(String kind, String target, String actor, ReportingWork work, Consumer<String> onEnd) {
        return submit(kind, null, target, actor, work, onEnd);
    }

    /** As {@link #submit(String, String, String, ReportingWork, Consumer)}, for work on a VM ({@code vmId}) that reports its own progress. */
    public JobView submit(String kind, String vmId, String target, String actor, ReportingWork work, Consumer<String> onEnd) {
        return submit(kind, vmId, target, actor, null, work, onEnd);
    }

    /**
     * As {@link #submit(String, String, String, String, ReportingWork, Consumer)}, for work that stops when asked
     * ({@link Progress#cancelRequested}): callers with {@code cancelledWith} may cancel it ({@link #cancel}). A job
     * that then fails is Cancelled.
     */
    public JobView submitCancellable(String kind, String vmId, String target, String actor, Permission cancelledWith,
            ReportingWork work, Consumer<String> onEnd) {
        return submit(kind, vmId, target, actor, new Cancellation(cancelledWith, new AtomicBoolean()), work, onEnd);
    }

    private JobView submit(String kind, String vmId, String target, String actor, Cancellation cancellation,
            ReportingWork work, Consumer<String> onEnd) {
        JobEntity job = newJob(kind, vmId, actor);
        job.target = target;
        QuarkusTransaction.requiringNew().run(job::persist);
        AtomicInteger recorded = new AtomicInteger();
        Progress progress = new Progress() {
            @Override
            public void percent(long percent) {
                int p = (int) Math.max(0, Math.min(99, percent));
                if (recorded.getAndAccumulate(p, Math::max) < p) {
                    update(job.id, null, p, null);
                }
            }

            @Override
            public boolean cancelRequested() {
                return cancellation != null && cancellation.requested().get();
            }
        };
        if (cancellation != null) {
            cancellable.put(job.id, cancellation);
        }
        runner.execute(() -> {
            try {
                run(job.id, "job/" + job.id, () -> work.run(progress), onEnd, progress::cancelRequested);
            } finally {
                cancellable.remove(job.id);
            }
        });
        return JobView.of(job);
    }

    /**
     * Asks the running job to stop (202: it ends Cancelled once its work has stopped, and says so). 404 for a job the
     * caller may not see; 409 for one that has ended, that runs on another host's server (ask that one), or whose
     * work cannot stop; 403 without the permission its kind is cancelled with. Audited.
     */
    public JobView cancel(Caller caller, String id) {
        UUID uuid = parse(id);
        JobEntity job = uuid == null ? null : QuarkusTransaction.requiringNew().call(() -> JobEntity.<JobEntity>findById(uuid));
        if (job == null || !caller.decide(Permission.JOB_READ, job.actor).allowed()) {
            throw new NotFoundRefusal("no job with id '" + id + "'");
        }
        String target = "job:" + id;
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("kind", job.kind);
        if (job.target != null) {
            parameters.put("target", job.target);
        }
        String refusal = null;
        Cancellation cancellation = cancellable.get(uuid);
        if (job.state != JobEntity.State.QUEUED && job.state != JobEntity.State.RUNNING) {
            refusal = "job " + id + " has ended (" + job.state.name().toLowerCase(Locale.ROOT) + "): there is nothing to cancel";
        } else if (job.hostId != null && !job.hostId.equals(localHost.id())) {
            refusal = "job " + id + " runs on host " + job.hostId + "'s server: ask that server to cancel it";
        } else if (cancellation == null) {
            refusal = "a " + job.kind + " job cannot be cancelled once it has started; it ends by itself";
        }
        if (refusal != null) {
            audit.recordFailure(caller, "job.cancel", target, parameters, refusal);
            throw new JobStateException(refusal);
        }
        if (caller.reach(cancellation.permission()) == Reach.NONE) {
            String reason = "cancelling a " + job.kind + " job needs the permission to "
                    + cancellation.permission().description();
            audit.recordDenial(caller, "job.cancel", target, parameters, reason);
            throw new AccessDeniedException(reason);
        }
        cancellation.requested().set(true);
        QuarkusTransaction.requiringNew().run(
                () -> audit.record(caller, "job.cancel", target, parameters, AuditOutcome.SUCCEEDED, null));
        LOG.infof("job %s (%s of %s) to be cancelled, as %s asks", id, job.kind, job.target, caller.username());
        return JobView.of(job);
    }

    private JobEntity newJob(String kind, String vmId, String actor) {
        JobEntity job = new JobEntity();
        job.id = UUID.randomUUID();
        job.kind = kind;
        job.vmId = vmId;
        job.actor = actor;
        job.hostId = localHost.id();
        job.state = JobEntity.State.QUEUED;
        job.createdAt = Instant.now();
        job.updatedAt = job.createdAt;
        return job;
    }

    /**
     * Records a queued job and starts it. {@code onEnd} runs after the job has ended, with its error
     * (null when it succeeded), for example to audit the outcome.
     */
    public JobView submit(VmOperation operation, String vmId, String actor, Work work, Consumer<String> onEnd) {
        JobEntity job = newJob(operation.jobKind(), vmId, actor);
        QuarkusTransaction.requiringNew().run(job::persist);
        runner.execute(() -> run(job.id, vmId + "/" + operation.engineAction(), work, onEnd, () -> false));
        return JobView.of(job);
    }

    private void run(UUID id, String key, Work work, Consumer<String> onEnd, java.util.function.BooleanSupplier cancelled) {
        RunningJob job = new RunningJob(id, new AtomicInteger());
        running.put(key, job);
        update(id, JobEntity.State.RUNNING, null, null);
        String error = null;
        try {
            CrashPoints.reached("job.running");
            work.run();
        } catch (Exception e) {
            error = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        } finally {
            running.remove(key, job);
        }
        JobEntity.State end = error == null ? JobEntity.State.SUCCEEDED
                : cancelled.getAsBoolean() ? JobEntity.State.CANCELLED : JobEntity.State.FAILED;
        update(id, end, error == null ? 100 : null, error);
        try {
            onEnd.accept(error);
        } catch (RuntimeException e) {
            LOG.errorf(e, "job %s ended, but recording its end failed", id);
        }
    }

    private void onEngineEvent(VmEvent event) {
        if (event instanceof VmEvent.Progress p && p.total() > 0) {
            RunningJob job = running.get(p.vmId() + "/" + p.action());
            int percent = (int) Math.min(99, p.done() * 100 / p.total());
            if (job != null && job.recorded().getAndAccumulate(percent, Math::max) < percent) {
                update(job.id(), null, percent, null);
            }
        }
    }

    private void update(UUID id, JobEntity.State state, Integer progress, String error) {
        try {
            QuarkusTransaction.requiringNew().run(() -> {
                JobEntity job = JobEntity.findById(id);
                if (state != null) {
                    job.state = state;
                }
                if (progress != null && progress > job.progress) {
                    job.progress = progress.shortValue();
                }
                if (error != null) {
                    job.error = error.length() > 2000 ? error.substring(0, 2000) : error;
                }
                job.updatedAt = Instant.now();
            });
        } catch (RuntimeException e) {
            LOG.errorf("could not record job %s: %s", id, e.getMessage());
        }
    }
}
