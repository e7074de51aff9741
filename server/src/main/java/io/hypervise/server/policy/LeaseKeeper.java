package io.hypervise.server.policy;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineException;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.config.ServerConfig;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import io.hypervise.server.vm.VmOperation;
import io.hypervise.server.vm.VmService;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Ends leases: a VM whose lease ends soon is warned; when it ends the VM is turned off; after the
 * grace period it is deleted with its disks. Each step is audited (actor "system") and happens once.
 * {@link #sweep(Instant)} takes the time as a parameter, so tests drive it with any clock.
 */
@ApplicationScoped
public class LeaseKeeper {

    private static final Logger LOG = Logger.getLogger(LeaseKeeper.class);

    @Inject
    ServerConfig config;

    @Inject
    Engine engine;

    @Inject
    EntityManager em;

    @Inject
    AuditLog audit;

    @Inject
    VmService vms;

    @Inject
    io.hypervise.server.inventory.LocalHost localHost;

    private ScheduledExecutorService timer;

    void onStart(@Observes StartupEvent event) {
        timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("lease-keeper").factory());
        long every = config.lease().sweep().toMillis();
        timer.scheduleWithFixedDelay(() -> {
            try {
                sweep(Instant.now());
            } catch (RuntimeException e) {
                LOG.errorf(e, "looking at leases failed");
            }
        }, every, every, TimeUnit.MILLISECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /** Takes every lease step that is due at {@code now}. Returns how many steps it took. */
    public int sweep(Instant now) {
        int steps = 0;
        for (String id : due("lease_warned_at IS NULL AND lease_expires_at - make_interval(secs => ?1) <= ?2",
                config.lease().warning().toSeconds(), now)) {
            steps += step(id, "vm.lease.warn", now, "lease_warned_at", () -> "its lease ends soon");
        }
        for (String id : due("lease_stopped_at IS NULL AND lease_expires_at + make_interval(secs => ?1) <= ?2", 0, now)) {
            steps += step(id, "vm.lease.stop", now, "lease_stopped_at", () -> turnOff(id));
        }
        for (String id : due("lease_expires_at + make_interval(secs => ?1) <= ?2", config.lease().grace().toSeconds(), now)) {
            try {
                vms.delete(Caller.host(), id);
                QuarkusTransaction.requiringNew().run(() -> audit.record(Caller.host(), "vm.lease.delete", AuditLog.vm(id),
                        Map.of("at", now.toString()), AuditOutcome.SUCCEEDED, null));
                LOG.infof("VM %s deleted: its lease ended and the grace period is over", id);
                steps++;
            } catch (RuntimeException e) {
                LOG.warnf("VM %s: its lease is over but it could not be deleted: %s", id, e.getMessage());
            }
        }
        return steps;
    }

    private List<String> due(String condition, long seconds, Instant now) {
        return QuarkusTransaction.requiringNew().call(() -> {
            @SuppressWarnings("unchecked")
            // Each host's server keeps the leases of its own VMs: only it can turn them off or delete them.
            List<String> ids = em.createNativeQuery("SELECT id FROM vms WHERE lease_expires_at IS NOT NULL AND host_id = ?3 AND "
                    + condition.replace("?1", "CAST(?1 AS double precision)") + " ORDER BY id")
                    .setParameter(1, (double) seconds).setParameter(2, now).setParameter(3, localHost.id()).getResultList();
            return ids;
        });
    }

    private interface Step {
        String run();
    }

    /** One lease step, intent first: nothing is done to the VM unless the log has taken the request. */
    private int step(String id, String action, Instant now, String column, Step step) {
        audit.recordIntent(Caller.host(), action, AuditLog.vm(id), Map.of("at", now.toString()));
        String what = step.run();
        QuarkusTransaction.requiringNew().run(() -> {
            em.createNativeQuery("UPDATE vms SET " + column + " = ?1 WHERE id = ?2").setParameter(1, now)
                    .setParameter(2, id).executeUpdate();
            audit.record(Caller.host(), action, AuditLog.vm(id), Map.of("at", now.toString(), "what", what),
                    AuditOutcome.SUCCEEDED, null);
        });
        LOG.infof("VM %s: %s (%s)", id, what, action);
        return 1;
    }

    private String turnOff(String id) {
        try {
            VmState state = engine.vms().status(id).state();
            if (state == VmState.OFF || state == VmState.SAVED) {
                return "its lease ended; it was already " + state.displayName();
            }
            engine.vms().turnOff(id);
            return "its lease ended; turned off";
        } catch (EngineException e) {
            return "its lease ended; it could not be turned off: " + e.getMessage();
        }
    }

    /** Extends (or sets) a VM's lease to end at {@code until}; its warning and stop start over. */
    public void extend(String id, Instant until, Caller caller) {
        QuarkusTransaction.requiringNew().run(() -> {
            int updated = em.createNativeQuery("UPDATE vms SET lease_expires_at = ?1, lease_warned_at = NULL,"
                    + " lease_stopped_at = NULL WHERE id = ?2").setParameter(1, until).setParameter(2, id).executeUpdate();
            if (updated == 0) {
                throw new io.hypervise.engine.vm.VmNotFoundException(id);
            }
            audit.record(caller, VmOperation.EXTEND_LEASE.auditName(), AuditLog.vm(id), Map.of("until", until.toString()), AuditOutcome.SUCCEEDED, null);
        });
    }
}
