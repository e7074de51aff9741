package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineException;
import io.hypervise.engine.vm.IncomingEndpoint;
import io.hypervise.engine.vm.IncomingOptions;
import io.hypervise.engine.vm.MigrationOptions;
import io.hypervise.engine.vm.MigrationResult;
import io.hypervise.engine.vm.VmAlreadyExistsException;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.CdRom;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.RequestRefusedException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.cluster.Cluster;
import io.hypervise.server.cluster.ClusterMember;
import io.hypervise.server.cluster.HostMembership;
import io.hypervise.server.cluster.PeerApi;
import io.hypervise.server.cluster.PeerHosts;
import io.hypervise.server.cluster.VmArrivals;
import io.hypervise.server.cluster.VmOwnership;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.CrashPoints;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmConflictException;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmRepository;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.placement.PlacementRefusedException;
import io.hypervise.server.placement.Placements;
import io.hypervise.server.placement.Rating;
import io.hypervise.server.placement.Ratings;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Live migration of a VM between two hosts' servers ({@link VmOperation#MIGRATE}), both sides.
 *
 * <p>Source (the owner's server; asked elsewhere it is a 409 naming the owner): the target is checked (placement
 * rates it eligible, its lease is live) and the intent audited before anything moves; then, as a job, the target
 * prepares to receive, the engine sends the VM ({@code migrateOut}) and, in its hand-over, the database first makes
 * the target the owner (epoch-checked: {@link VmOwnership#transfer}; refused, the guest runs on here), and only
 * then the target is asked to resume it. Once the database names the target, nothing resumes the guest here: a
 * target that does not confirm leaves the job failed with that said, never two guests. Any failure before the
 * transfer abandons the target's side; the guest keeps running here. The outcome names the target and the downtime.
 *
 * <p>Target (the internal API): receives only a VM the asking host still owns and this engine does not have;
 * resumes it only once the database says this host owns it; abandons it only while it does not.
 */
@ApplicationScoped
public class VmMigrations {

    private static final Logger LOG = Logger.getLogger(VmMigrations.class);

    @Inject
    Engine engine;

    @Inject
    VmRepository vms;

    @Inject
    io.hypervise.server.access.VmAccess access;

    @Inject
    VmService service;

    @Inject
    AuditLog audit;

    @Inject
    Jobs jobs;

    @Inject
    Placements placements;

    @Inject
    PeerHosts peers;

    @Inject
    Cluster cluster;

    @Inject
    HostMembership membership;

    @Inject
    VmOwnership ownership;

    @Inject
    LocalHost localHost;

    @Inject
    VmArrivals arrivals;

    @Inject
    ServerConfig config;

    private ScheduledExecutorService sweeper;

    /**
     * {@code POST /api/v1/vms/{id}/migrate}: the host to move to (absent: the one placement rates best), and at most how
     * fast the memory goes, in KiB/s (absent: 1 GiB/s).
     */
    public record MigrateRequest(String host, Long bandwidthKiBps) {
    }

    /** The fastest a migration may be asked to send memory: 10 GiB/s, in KiB/s. */
    static final long MAX_BANDWIDTH_KIBPS = 10L << 20;

    // ---------------------------------------------------------------- source

    /**
     * Starts moving the VM live to {@code request.host} (or the best-rated host): refused at once (audited) when the
     * VM is not Running or Paused here, the target is unknown (400), this host, rated unsuitable (409 with
     * placement's reasons) or not live (503); otherwise intent audited, then a job.
     */
    public VmService.Started migrate(Caller caller, String id, MigrateRequest request) {
        VmEntity vm = access.require(caller, id, VmOperation.MIGRATE);
        String asked = request == null || request.host() == null || request.host().isBlank() ? null : request.host().trim();
        Long bandwidth = request == null ? null : request.bandwidthKiBps();
        if (bandwidth != null && (bandwidth < 1 || bandwidth > MAX_BANDWIDTH_KIBPS)) {
            throw new InvalidRequestException("migration", List.of(new FieldError("bandwidthKiBps",
                    "must be a whole number of KiB/s from 1 to " + MAX_BANDWIDTH_KIBPS + " (10 GiB/s); was " + bandwidth)));
        }
        Move move = decide(caller, vm, asked, bandwidth);
        // Cancelled, the migration stops where it is and the guest runs on here (those who may migrate may cancel).
        JobView job = jobs.submitCancellable(VmOperation.MIGRATE.jobKind(), id, "host:" + move.to(), caller.username(),
                Permission.VM_MIGRATE, progress -> carryOut(move, progress), error -> recordOutcome(move, error));
        return new VmService.Started(job, vm.name);
    }

    /** A live migration decided, its intent recorded: by whom, where to, and what its outcome will say. */
    record Move(Caller caller, VmEntity vm, String to, long toEpoch, boolean paused, MigrationOptions options,
            Map<String, Object> outcome) {
    }

    /**
     * Decides where the VM goes ({@code asked}, or the best-rated host) and records the intent; refusals (the VM not
     * Running or Paused here, an unknown or unsuitable target, one whose lease is not live) are audited and thrown.
     */
    Move decide(Caller caller, VmEntity vm, String asked, Long bandwidthKiBps) {
        VmOperation operation = VmOperation.MIGRATE;
        String action = operation.auditName();
        String target = AuditLog.vm(vm.id);
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("from", vm.hostId);
        if (asked != null) {
            parameters.put("host", asked);
        }
        MigrationOptions defaults = MigrationOptions.defaults();
        MigrationOptions options = bandwidthKiBps == null ? defaults
                : new MigrationOptions(bandwidthKiBps << 10, defaults.downtimeLimit(), defaults.timeout());
        if (bandwidthKiBps != null) {
            parameters.put("bandwidthKiBps", bandwidthKiBps);
        }
        String to;
        long toEpoch;
        VmStatus status;
        try {
            service.requireActionable(vm);
            status = engine.vms().status(vm.id);
            VmStateMachine.check(operation.engineAction(), status.state(), status.name());
            to = chooseTarget(caller, vm, asked);
            peers.requireLive(to, "receive VM " + vm.id);
            toEpoch = cluster.member(to).map(ClusterMember::lease).orElseThrow().epoch();
        } catch (RequestRefusedException | EngineException e) {
            audit.recordFailure(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        parameters.put("to", to);
        // Intent first: nothing moves unless the log has taken the request (503 if not).
        audit.recordIntent(caller, action, target, Map.copyOf(parameters));
        return new Move(caller, vm, to, toEpoch, status.state() == VmState.PAUSED, options,
                new ConcurrentHashMap<>(parameters));
    }

    /** Carries the decided move out (see {@link #send}); throws what went wrong, the guest then where it says. */
    void carryOut(Move move, Jobs.Progress progress) {
        send(move.vm(), move.to(), move.toEpoch(), move.paused(), move.options(), progress, move.outcome());
    }

    /** The outcome of a move in the audit log: succeeded ({@code error} null) or failed, with where the VM is. */
    void recordOutcome(Move move, String error) {
        audit.recordOutcome(move.caller(), VmOperation.MIGRATE.auditName(), AuditLog.vm(move.vm().id),
                new LinkedHashMap<>(move.outcome()), error);
    }

    private String chooseTarget(Caller caller, VmEntity vm, String asked) {
        Ratings ratings = placements.rate(caller, vm.id);
        if (asked != null) {
            Rating rating = ratings.ratings().stream().filter(r -> r.hostId().equals(asked)).findFirst()
                    .orElseThrow(() -> new InvalidRequestException("host", List.of(new FieldError("host",
                            "must be a host of the cluster that has not left; there is no host '" + asked + "'"))));
            if (!rating.eligible()) {
                throw new PlacementRefusedException(asked, rating.reasons());
            }
            return asked;
        }
        Optional<Rating> best = ratings.ratings().stream().filter(Rating::eligible).findFirst();
        if (best.isEmpty()) {
            throw new PlacementRefusedException("any", ratings.ratings().stream()
                    .map(r -> r.hostId() + ": " + String.join(", ", r.reasons())).toList());
        }
        return best.get().hostId();
    }

    /** The job: prepare the target, send, hand over (database first, then the target's resume). */
    private void send(VmEntity vm, String to, long toEpoch, boolean paused, MigrationOptions options, Jobs.Progress progress,
            Map<String, Object> outcome) {
        String id = vm.id;
        String here = localHost.id();
        long hereEpoch = membership.epoch();
        String[] unconfirmed = new String[1];
        boolean[] transferred = new boolean[1];
        MigrationResult result;
        try {
            peers.requireLive(to, "receive VM " + id);
            Map<Integer, Long> disks = engine.vms().localDiskSizes(id);
            PeerApi.Incoming incoming = peers.prepareIncoming(to, id, new PeerApi.IncomingRequest(here,
                    engine.storage().path().toString(), disks, paused));
            IncomingEndpoint endpoint = new IncomingEndpoint(incoming.host(), incoming.ramPort(), incoming.nbdPort(),
                    incoming.exports());
            result = engine.vms().migrateOut(id, endpoint, options, progress::percent, progress::cancelRequested,
                    () -> {
                        // The database first: refused (a stale epoch, an expired lease, a target that gave the
                        // arrival up), this throws and the guest runs on here.
                        QuarkusTransaction.requiringNew().run(() -> {
                            arrivals.handOver(id, to);
                            ownership.transfer(id, here, hereEpoch, to, toEpoch);
                        });
                        transferred[0] = true;
                        CrashPoints.reached("vm.migrate.transferred");
                        try {
                            peers.finishIncoming(to, id, new PeerApi.FinishRequest(paused, here));
                        } catch (RuntimeException e) {
                            // The database says the target owns it: never resume here.
                            unconfirmed[0] = e.getMessage();
                        }
                    });
        } catch (RuntimeException e) {
            if (transferred[0]) {
                // Only the worker's ending here can fail after the transfer; the target owns the VM.
                outcome.put("owner", to);
                throw new IllegalStateException("VM '" + vm.name + "' was handed over to host " + to
                        + " (the database names it the owner), but ending its worker here failed: " + e.getMessage(), e);
            }
            String abandoned = abandon(to, id);
            outcome.put("owner", here);
            throw new IllegalStateException("VM '" + vm.name + "' was not migrated to host " + to + ": " + e.getMessage()
                    + "; it keeps running on host " + here + (abandoned == null ? "" : "; " + abandoned), e);
        }
        outcome.put("owner", to);
        outcome.put("downtimeMillis", result.downtimeMillis());
        outcome.put("totalMillis", result.elapsedMillis());
        outcome.put("ramBytes", result.ramBytes());
        outcome.put("diskBytes", result.diskBytes());
        LOG.infof("VM '%s' (%s) migrated live from host %s to host %s: downtime %d ms, %d ms in all", vm.name, id, here, to,
                result.downtimeMillis(), result.elapsedMillis());
        if (unconfirmed[0] != null) {
            outcome.put("resumeUnconfirmed", unconfirmed[0]);
            throw new IllegalStateException("VM '" + vm.name + "' moved to host " + to + " (downtime "
                    + result.downtimeMillis() + " ms; the database names host " + to + " its owner), but host " + to
                    + " did not confirm resuming it: " + unconfirmed[0] + "; it is not resumed here: look at it on host "
                    + to);
        }
    }

    /** Best effort: the target's side removed; what went wrong in words, or null. */
    private String abandon(String to, String id) {
        try {
            peers.abandonIncoming(to, id);
            return null;
        } catch (RuntimeException e) {
            LOG.warnf("VM %s: abandoning its arrival at host %s failed: %s", id, to, e.getMessage());
            return "abandoning its arrival at host " + to + " failed too: " + e.getMessage();
        }
    }

    // ---------------------------------------------------------------- target (the internal API)

    /**
     * Prepares this host to receive VM {@code id} from {@code request.fromHost}: defined from the cluster's record,
     * fresh images for its local disks, a paused worker listening on this host's own address. 409 when the VM is
     * not on that host or this engine has a VM of that id already.
     */
    public PeerApi.Incoming receive(String id, PeerApi.IncomingRequest request) {
        if (request == null || request.fromHost() == null || request.fromHost().isBlank()) {
            throw new InvalidRequestException("fromHost", List.of(new FieldError("fromHost",
                    "is required: the host the VM migrates from")));
        }
        VmEntity vm = vms.find(id).orElseThrow(() -> new VmNotFoundException(id));
        if (!vm.hostId.equals(request.fromHost()) || vm.hostId.equals(localHost.id())) {
            throw new VmConflictException("VM '" + vm.name + "' is on host " + vm.hostId + "; host " + localHost.id()
                    + " receives it only from its owner, not from host " + request.fromHost());
        }
        if (engine.vms().find(id).isPresent()) {
            throw new VmAlreadyExistsException(id);
        }
        Map<Integer, Long> disks = request.localDiskBytes() == null ? Map.of() : request.localDiskBytes();
        VmDefinition definition = request.fromStorageRoot() == null ? vm.toDefinition()
                : rebased(vm.toDefinition(), Path.of(request.fromStorageRoot()), engine.storage().path());
        // Recorded before the worker starts: whatever this server does not live to finish, its sweep settles.
        arrivals.record(id, localHost.id(), request.fromHost(), request.paused());
        IncomingEndpoint endpoint;
        try {
            endpoint = engine.vms().receive(definition, IncomingOptions.on(listenAddress(), disks));
        } catch (RuntimeException e) {
            arrivals.forget(id, localHost.id());
            throw e;
        }
        LOG.infof("VM '%s' (%s): arriving live from host %s at %s:%d", vm.name, id, request.fromHost(), endpoint.host(),
                endpoint.ramPort());
        return new PeerApi.Incoming(id, endpoint.host(), endpoint.ramPort(), endpoint.nbdPort(), endpoint.exports());
    }

    /** Resumes the arrived VM: only once the database says this host owns it (the source transferred it first). */
    public VmState finish(String id, PeerApi.FinishRequest request) {
        return takeOver(id, request != null && request.paused(), request == null ? "?" : request.fromHost());
    }

    /**
     * Resumes the arrived VM here, once: asked by its source, or by this host's sweep when the source handed it over
     * and went quiet. A VM that has arrived already answers with its state.
     */
    private VmState takeOver(String id, boolean paused, String fromHost) {
        VmEntity vm = vms.find(id).orElseThrow(() -> new VmNotFoundException(id));
        if (!vm.hostId.equals(localHost.id())) {
            throw new VmConflictException("VM '" + vm.name + "' is owned by host " + vm.hostId + " in the database, not by "
                    + localHost.id() + ": it is resumed here only once its ownership has been transferred here");
        }
        VmStatus arrived;
        try {
            arrived = engine.vms().finishIncoming(id, paused);
        } catch (io.hypervise.engine.vm.VmStateException e) {
            // Not arriving (any more): the source's call and this host's sweep met, and the other resumed it.
            VmStatus now = engine.vms().status(id);
            if (now.state() == VmState.RUNNING || now.state() == VmState.PAUSED) {
                arrivals.forget(id, localHost.id());
                return now.state();
            }
            throw e;
        }
        LOG.infof("VM '%s' (%s): arrived live from host %s; %s here", vm.name, id, fromHost, arrived.state().displayName());
        arrivals.forget(id, localHost.id());
        // The guest runs here first: a database that refuses this now must not leave it paused nowhere.
        try {
            vms.recordPaths(id, arrived.definition());
        } catch (RuntimeException e) {
            LOG.errorf("VM '%s' (%s) runs here, but where its files are here could not be recorded: %s; the inventory"
                    + " names the paths it had on host %s until it is recorded", vm.name, id, e.getMessage(), fromHost);
        }
        return arrived.state();
    }

    /**
     * Gives up the arriving VM (its source asks, after a failure on its side): refused (409) once the source has handed
     * it over, when this host is its only copy.
     */
    public void abandon(String id) {
        if (arrivals.giveUp(id, localHost.id()) == VmArrivals.GiveUp.HANDED_OVER) {
            throw new VmConflictException("VM '" + id + "' has been handed over to host " + localHost.id()
                    + ": its arrival is not abandoned, it would be the only copy");
        }
        Optional<VmEntity> vm = vms.find(id);
        if (vm.isPresent() && vm.get().hostId.equals(localHost.id())) {
            throw new VmConflictException("VM '" + vm.get().name + "' is owned by host " + localHost.id()
                    + " in the database: its arrival is not abandoned, it would be the only copy");
        }
        if (engine.vms().arriving().contains(id)) {
            engine.vms().abortIncoming(id);
        } // else given up already (this host's sweep was first): nothing of it is left here
    }

    void onStart(@Observes StartupEvent event) {
        sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("arrivals").factory());
        long every = config.cluster().migration().sweep().toMillis();
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                sweepArrivals();
            } catch (RuntimeException e) {
                LOG.warnf("looking over the VMs arriving here failed (tried again in %d ms): %s", every, e.getMessage());
            }
        }, every, every, TimeUnit.MILLISECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
    }

    /**
     * Settles what arrives here without its source: a VM handed over whose source did not ask for it to be resumed
     * (it died, or the network went) is resumed here, the owner; an arrival not handed over within the arrival
     * timeout is given up (its worker ends, its fresh images go), the guest staying with its source; a worker
     * arriving with no arrival recorded is ended. Each is logged and audited.
     */
    void sweepArrivals() {
        String here = localHost.id();
        Set<String> arriving = engine.vms().arriving(); // read before the rows: an arrival's row is written first
        Duration timeout = config.cluster().migration().arrivalTimeout();
        Set<String> recorded = new HashSet<>();
        // A source that handed the VM over asks for it to be resumed at once, and waits for that at most this long.
        Duration grace = config.cluster().peer().requestTimeout();
        for (VmArrivals.Arrival arrival : arrivals.at(here, timeout, grace)) {
            String id = arrival.vmId();
            recorded.add(id);
            if (arrival.handedOver()) {
                try {
                    VmState state = takeOver(id, arrival.paused(), arrival.fromHost());
                    LOG.warnf("VM %s: host %s handed it over but did not ask for it to be resumed within %d s; resumed"
                            + " here: %s", id, arrival.fromHost(), grace.toSeconds(), state.displayName());
                    settled(id, "vm.arrival.take-over", arrival, null);
                } catch (RuntimeException e) {
                    LOG.errorf("VM %s: host %s handed it over, but it could not be resumed here: %s", id,
                            arrival.fromHost(), e.getMessage());
                }
            } else if (arrival.stale()) {
                String why = "host " + arrival.fromHost() + " did not hand it over within " + timeout.toSeconds() + " s";
                if (arrivals.giveUp(id, here) == VmArrivals.GiveUp.GIVEN_UP) {
                    discard(id, why);
                    settled(id, "vm.arrival.give-up", arrival, why);
                }
            }
        }
        for (String id : arriving) {
            if (!recorded.contains(id)) {
                // Finished or given up since the engine was asked (then this finds nothing arriving), or never recorded.
                discard(id, "no arrival of it is recorded");
            }
        }
    }

    private void discard(String id, String why) {
        try {
            engine.vms().abortIncoming(id);
            LOG.warnf("VM %s: its arrival here was given up (%s); the guest stays where it was", id, why);
        } catch (VmNotFoundException | io.hypervise.engine.vm.VmStateException e) {
            // nothing of it arriving here any more
        } catch (RuntimeException e) {
            LOG.errorf("VM %s: its arrival was given up (%s), but its worker here could not be ended: %s", id, why,
                    e.getMessage());
        }
    }

    private void settled(String id, String action, VmArrivals.Arrival arrival, String reason) {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("from", arrival.fromHost());
        parameters.put("to", localHost.id());
        try {
            QuarkusTransaction.requiringNew().run(() -> audit.record(Caller.host(), action, AuditLog.vm(id), parameters,
                    io.hypervise.server.audit.AuditOutcome.SUCCEEDED, reason));
        } catch (RuntimeException e) {
            LOG.errorf("VM %s: %s done, but the audit log could not record it: %s", id, action, e.getMessage());
        }
    }

    /**
     * The definition with every path under the source's storage root moved under this host's (the library's kernels,
     * ISOs and read-only disks are the same files in each host's library); the same definition when the roots are the
     * same folder. The engine checks that each file is here.
     */
    static VmDefinition rebased(VmDefinition d, Path from, Path to) {
        if (from.equals(to)) {
            return d;
        }
        java.util.function.UnaryOperator<Path> move = p -> p != null && p.startsWith(from) ? to.resolve(from.relativize(p)) : p;
        List<Disk> disks = d.disks().stream().map(k -> new Disk(move.apply(k.path()), k.format(), k.readOnly(),
                k.backing() == null ? null : new Disk.Backing(move.apply(k.backing().path()), k.backing().format()), k.node(),
                k.hostDevice())).toList();
        BootSource boot = d.boot() instanceof BootSource.Kernel k
                ? new BootSource.Kernel(move.apply(k.kernel()), move.apply(k.initramfs()), k.commandLine())
                : d.boot() instanceof BootSource.Iso iso ? new BootSource.Iso(move.apply(iso.image())) : d.boot();
        CdRom cdrom = d.cdrom() == null ? null : new CdRom(move.apply(d.cdrom().medium()));
        return new VmDefinition(d.id(), d.name(), d.vcpus(), d.memoryMib(), d.profile(), disks, d.nics(), boot, d.display(),
                d.firmware(), d.resources(), cdrom, d.maxVcpus(), d.maxMemoryMib(), d.memoryDimmsMib());
    }

    /** This host's own address, as other hosts reach its server (hypervise.cluster.address): where QEMU listens. */
    private String listenAddress() {
        try {
            String host = URI.create(membership.address()).getHost();
            return host == null ? "127.0.0.1" : host;
        } catch (IllegalArgumentException e) {
            return "127.0.0.1";
        }
    }
}
