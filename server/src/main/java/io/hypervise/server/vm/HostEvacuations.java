package io.hypervise.server.vm;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.api.NotFoundRefusal;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.cluster.Cluster;
import io.hypervise.server.cluster.ClusterMember;
import io.hypervise.server.host.HostMaintenance;
import io.hypervise.server.host.HostStateException;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmRepository;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * Empties a host for maintenance: it is put into maintenance mode first (so nothing new lands on it), then each VM
 * whose guest runs or is paused there moves live to the host placement rates best for it, one after another, the
 * largest first (while the others still have the most room), each a live migration like any other (its own intent
 * and outcome in the audit log). A VM that cannot move (no eligible host, a failed migration) stays and runs on; the
 * job then fails, naming each one and why. Off and Saved VMs stay: they hold neither memory nor CPU. Done by the
 * host's own server, as its migrations are.
 */
@ApplicationScoped
public class HostEvacuations {

    private static final Logger LOG = Logger.getLogger(HostEvacuations.class);
    static final String ACTION = "host.evacuate";
    static final String JOB_KIND = "host-evacuate";

    @Inject
    HostMaintenance maintenance;

    @Inject
    VmMigrations migrations;

    @Inject
    VmRepository vms;

    @Inject
    VmAccess access;

    @Inject
    Jobs jobs;

    @Inject
    AuditLog audit;

    @Inject
    Cluster cluster;

    @Inject
    LocalHost localHost;

    /** Puts host {@code hostId} into maintenance mode and starts the job that moves its running VMs away. */
    public JobView evacuate(Caller caller, String hostId) {
        String target = "host:" + hostId;
        ClusterMember member = cluster.member(hostId)
                .orElseThrow(() -> new NotFoundRefusal("no host with id '" + hostId + "'"));
        if (!hostId.equals(localHost.id())) {
            String where = member.address();
            String reason = "host '" + hostId + "' is emptied by its own server" + (where == null ? "" : " (" + where + ")")
                    + ", which moves its VMs; this is host " + localHost.id() + "'s";
            audit.recordFailure(caller, ACTION, target, Map.of(), reason);
            throw new HostStateException(reason);
        }
        maintenance.set(hostId, true, caller);
        List<String> running = vms.runningOn(hostId);
        audit.recordIntent(caller, ACTION, target, Map.of("vms", running.size()));
        Map<String, Object> outcome = new ConcurrentHashMap<>();
        // Cancelled, the migration under way stops (its guest runs on here) and no other VM is moved.
        return jobs.submitCancellable(JOB_KIND, null, target, caller.username(), Permission.HOST_MANAGE,
                progress -> moveAll(caller, hostId, progress, outcome),
                error -> audit.recordOutcome(caller, ACTION, target, new LinkedHashMap<>(outcome), error));
    }

    private void moveAll(Caller caller, String hostId, Jobs.Progress progress, Map<String, Object> outcome) {
        List<String> ids = vms.runningOn(hostId); // again: what started or stopped since the request counts
        Map<String, String> moved = new LinkedHashMap<>();
        Map<String, String> stayed = new LinkedHashMap<>();
        Jobs.Progress eachMove = new Jobs.Progress() {
            @Override
            public void percent(long percent) {
                // the job's progress counts VMs
            }

            @Override
            public boolean cancelRequested() {
                return progress.cancelRequested();
            }
        };
        for (int i = 0; i < ids.size(); i++) {
            String id = ids.get(i);
            if (progress.cancelRequested()) {
                throw new IllegalStateException("emptying host " + hostId + " was cancelled with " + moved.size() + " of "
                        + ids.size() + " running VM(s) moved; it stays in maintenance mode");
            }
            VmMigrations.Move move = null;
            try {
                VmEntity vm = access.require(caller, id, VmOperation.MIGRATE);
                move = migrations.decide(caller, vm, null, null);
                migrations.carryOut(move, eachMove);
                migrations.recordOutcome(move, null);
                moved.put(id, move.to());
            } catch (RuntimeException e) {
                if (move != null) {
                    migrations.recordOutcome(move, e.getMessage());
                }
                stayed.put(id, e.getMessage());
                LOG.warnf("VM %s stays on host %s, being emptied: %s", id, hostId, e.getMessage());
            }
            progress.percent((i + 1) * 100L / ids.size());
            outcome.put("moved", new LinkedHashMap<>(moved));
            outcome.put("stayed", new LinkedHashMap<>(stayed));
        }
        LOG.infof("host %s emptied for maintenance: %d VM(s) moved, %d stayed", hostId, moved.size(), stayed.size());
        if (!stayed.isEmpty()) {
            StringBuilder why = new StringBuilder();
            stayed.forEach((id, reason) -> why.append(why.isEmpty() ? "" : "; ").append(id).append(": ").append(reason));
            throw new IllegalStateException(stayed.size() + " of " + ids.size() + " running VM(s) stay on host " + hostId
                    + " (it is in maintenance mode): " + why);
        }
    }
}
