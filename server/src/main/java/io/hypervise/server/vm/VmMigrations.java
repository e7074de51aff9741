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
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.RequestRefusedException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.cluster.Cluster;
import io.hypervise.server.cluster.ClusterMember;
import io.hypervise.server.cluster.HostMembership;
import io.hypervise.server.cluster.PeerApi;
import io.hypervise.server.cluster.PeerHosts;
import io.hypervise.server.cluster.VmOwnership;
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
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.net.URI;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
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

    /** {@code POST /api/v1/vms/{id}/migrate}: the host to move to; absent, the one placement rates best. */
    public record MigrateRequest(String host) {
    }

    // ---------------------------------------------------------------- source

    /**
     * Starts moving the VM live to {@code request.host} (or the best-rated host): refused at once (audited) when the
     * VM is not Running or Paused here, the target is unknown (400), this host, rated unsuitable (409 with
     * placement's reasons) or not live (503); otherwise intent audited, then a job.
     */
    public VmService.Started migrate(Caller caller, String id, MigrateRequest request) {
        VmOperation operation = VmOperation.MIGRATE;
        VmEntity vm = access.require(caller, id, operation);
        String action = operation.auditName();
        String target = AuditLog.vm(id);
        String asked = request == null || request.host() == null || request.host().isBlank() ? null : request.host().trim();
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("from", vm.hostId);
        if (asked != null) {
            parameters.put("host", asked);
        }
        String to;
        long toEpoch;
        VmStatus status;
        try {
            service.requireActionable(vm);
            status = engine.vms().status(id);
            VmStateMachine.check(operation.engineAction(), status.state(), status.name());
            to = chooseTarget(caller, vm, asked);
            peers.requireLive(to, "receive VM " + id);
            toEpoch = cluster.member(to).map(ClusterMember::lease).orElseThrow().epoch();
        } catch (RequestRefusedException | EngineException e) {
            audit.recordFailure(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        parameters.put("to", to);
        // Intent first: nothing moves unless the log has taken the request (503 if not).
        audit.recordIntent(caller, action, target, Map.copyOf(parameters));
        Map<String, Object> outcome = new ConcurrentHashMap<>(parameters);
        boolean paused = status.state() == VmState.PAUSED;
        JobView job = jobs.submit(operation.jobKind(), id, "host:" + to, caller.username(),
                progress -> send(vm, to, toEpoch, paused, progress, outcome),
                error -> audit.recordOutcome(caller, action, target, new LinkedHashMap<>(outcome), error));
        return new VmService.Started(job, vm.name);
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
    private void send(VmEntity vm, String to, long toEpoch, boolean paused, Jobs.Progress progress,
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
                    engine.storage().path().toString(), disks));
            IncomingEndpoint endpoint = new IncomingEndpoint(incoming.host(), incoming.ramPort(), incoming.nbdPort(),
                    incoming.exports());
            result = engine.vms().migrateOut(id, endpoint, MigrationOptions.defaults(), progress::percent, () -> false,
                    () -> {
                        // The database first: refused (a stale epoch, an expired lease), this throws and the guest
                        // runs on here.
                        ownership.transfer(id, here, hereEpoch, to, toEpoch);
                        transferred[0] = true;
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
        IncomingEndpoint endpoint = engine.vms().receive(definition, IncomingOptions.on(listenAddress(), disks));
        LOG.infof("VM '%s' (%s): arriving live from host %s at %s:%d", vm.name, id, request.fromHost(), endpoint.host(),
                endpoint.ramPort());
        return new PeerApi.Incoming(id, endpoint.host(), endpoint.ramPort(), endpoint.nbdPort(), endpoint.exports());
    }

    /** Resumes the arrived VM: only once the database says this host owns it (the source transferred it first). */
    public VmState finish(String id, PeerApi.FinishRequest request) {
        VmEntity vm = vms.find(id).orElseThrow(() -> new VmNotFoundException(id));
        if (!vm.hostId.equals(localHost.id())) {
            throw new VmConflictException("VM '" + vm.name + "' is owned by host " + vm.hostId + " in the database, not by "
                    + localHost.id() + ": it is resumed here only once its ownership has been transferred here");
        }
        VmStatus arrived = engine.vms().finishIncoming(id, request != null && request.paused());
        LOG.infof("VM '%s' (%s): arrived live from host %s; %s here", vm.name, id,
                request == null ? "?" : request.fromHost(), arrived.state().displayName());
        // The guest runs here first: a database that refuses this now must not leave it paused nowhere.
        try {
            vms.recordPaths(id, arrived.definition());
        } catch (RuntimeException e) {
            LOG.errorf("VM '%s' (%s) runs here, but where its files are here could not be recorded: %s; the inventory"
                    + " names the paths it had on host %s until it is recorded", vm.name, id, e.getMessage(),
                    request == null ? "?" : request.fromHost());
        }
        return arrived.state();
    }

    /** Gives up the arriving VM: only while the database does not say this host owns it (then it is the only copy). */
    public void abandon(String id) {
        Optional<VmEntity> vm = vms.find(id);
        if (vm.isPresent() && vm.get().hostId.equals(localHost.id())) {
            throw new VmConflictException("VM '" + vm.get().name + "' is owned by host " + localHost.id()
                    + " in the database: its arrival is not abandoned, it would be the only copy");
        }
        engine.vms().abortIncoming(id);
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
