package io.hypervise.server.vm;

import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.Engine;
import io.hypervise.engine.display.VmDisplay;
import io.hypervise.engine.qmp.DeadlineSocket;
import io.hypervise.engine.EngineException;
import io.hypervise.engine.vm.VmAlreadyExistsException;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.VmState;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.inventory.VmConflictException;
import io.hypervise.server.library.Library;
import io.hypervise.server.template.TemplateStore;
import io.hypervise.server.template.Templates;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.access.Caller;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.access.AccessDeniedException;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.access.VmAccessRule;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.cluster.PeerApi;
import io.hypervise.server.cluster.PeerException;
import io.hypervise.server.cluster.PeerHosts;
import io.hypervise.server.console.Thumbnails;
import io.hypervise.server.counters.CounterQueries;
import io.hypervise.server.counters.CounterRange;
import io.hypervise.server.counters.CounterSeriesView;
import io.hypervise.server.inventory.CrashPoints;
import io.hypervise.server.inventory.DiskEntity;
import io.hypervise.server.inventory.HostDeviceClaims;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.storage.HostBlockDevices;
import io.hypervise.server.access.AccessDeniedException;
import io.hypervise.server.access.Reach;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmConflictException;
import io.hypervise.server.inventory.ResourceColumns;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmCursor;
import io.hypervise.server.inventory.VmPages;
import io.hypervise.server.inventory.VmRepository;
import io.hypervise.server.inventory.PageOf;
import io.hypervise.server.inventory.VmSettings;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.placement.Placements;
import io.hypervise.server.policy.Candidate;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.LeaseKeeper;
import io.hypervise.server.policy.PolicyCheck;
import io.hypervise.server.policy.PolicyDeniedException;
import io.hypervise.server.policy.QuotaTurns;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.policy.Usage;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * What callers do with VMs: the one place that holds the rules, in order, for every edge (API, pages,
 * the lease keeper). Each method takes the caller, asks {@link VmAccess} once, refuses a VM this server
 * cannot act on now, records the intent in the audit log before the engine acts, and the outcome after.
 */
@ApplicationScoped
public class VmService {

    private static final Logger LOG = Logger.getLogger(VmService.class);

    @Inject
    Engine engine;

    @Inject
    VmRepository vms;

    @Inject
    VmPages pages;

    @Inject
    VmAccess access;

    @Inject
    AuditLog audit;

    @Inject
    Jobs jobs;

    @Inject
    SelfServicePolicies policies;

    @Inject
    QuotaTurns quotaTurns;

    @Inject
    LeaseKeeper leases;

    @Inject
    LocalHost localHost;

    @Inject
    Thumbnails thumbnails;

    @Inject
    CounterQueries counters;

    @Inject
    Templates templates;

    @Inject
    TemplateStore templateStore;

    @Inject
    Library library;

    @Inject
    HostDeviceClaims claims;

    @Inject
    Placements placements;

    @Inject
    PeerHosts peers;

    private static final java.util.regex.Pattern TEMPLATE_ID = java.util.regex.Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    /** How an operation ended for the caller: done (with the VM as it is now), or begun as a job to follow. */
    public sealed interface Outcome {
    }

    public record Done(VmView vm) implements Outcome {
    }

    public record Started(JobView job, String vmName) implements Outcome {
    }

    /** A page of the VMs the caller may see, filtered, and where the next page starts (empty after the last). */
    public VmList list(Caller caller, VmQuery query) {
        VmPages.Start start = query.after().<VmPages.Start>map(VmPages.After::new)
                .orElseGet(() -> new VmPages.AtOffset((long) query.page() * query.size()));
        VmPages.Page found = pages.page(VmAccessRule.onlyOwnedBy(caller), query.filter(), start, query.size());
        List<VmView> items = found.items().stream().map(this::view).toList();
        Optional<VmCursor> next = found.more() ? Optional.of(VmCursor.of(found.items().getLast())) : Optional.empty();
        return new VmList(items, query.page(), query.size(), found.total(), next);
    }

    /** A page of VMs, how many match in all, and the cursor of the page after it (empty after the last). */
    public record VmList(List<VmView> items, int page, int size, long total, Optional<VmCursor> next) {
    }

    /** The VM (404 where the caller may not see it). */
    public VmView get(Caller caller, String id) {
        return view(access.require(caller, id, VmOperation.READ));
    }

    /**
     * Creates the VM for the caller, within their policies. Intent first: the VM's row (marked {@code
     * CREATING}, counted in its owner's quota) and the audit entry of the request commit before the engine
     * is asked; the engine then defines it; then the mark is cleared and the outcome recorded. A server
     * that dies between these steps finishes or undoes the creation at its next start ({@link VmReconciler}).
     */
    public Outcome create(Caller caller, VmRequests.NewVm request) {
        return create(caller, request, VmOperation.CREATE, Map.of());
    }

    /**
     * Creates a VM brought from an archive ({@link VmArchives}): a creation like any other, policies,
     * quota and intent first included, audited as an import with where the archive came from.
     */
    Done importVm(Caller caller, VmRequests.NewVm request, Map<String, Object> origin) {
        return (Done) create(caller, request, VmOperation.IMPORT, origin);
    }

    private Outcome create(Caller caller, VmRequests.NewVm asked, VmOperation operation, Map<String, Object> origin) {
        requireHostDevices(caller, operation, null, asked.definition().disks().stream().filter(Disk::hostDevice)
                .map(d -> String.valueOf(d.path())).toList());
        VmRequests.NewVm request = withPolicyResources(caller, operation, asked);
        VmDefinition planned = engine.vms().plan(request.definition(), request.newImages());
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("name", planned.name());
        parameters.put("vcpus", planned.vcpus());
        parameters.put("memoryMib", planned.memoryMib());
        parameters.put("profile", planned.profile().name());
        if (request.templateId() != null) {
            parameters.put("template", request.templateId());
        }
        parameters.put("disks", planned.disks().stream().map(d -> d.path().toString()).toList());
        if (!planned.resources().isNone()) {
            parameters.put("resources", ResourceColumns.describe(planned.resources()));
        }
        List<String> devices = planned.disks().stream().filter(Disk::hostDevice).map(d -> d.path().toString()).toList();
        if (!devices.isEmpty()) {
            parameters.put("hostDevices", devices);
        }
        if (!request.libraryItems().isEmpty()) {
            parameters.put("library", request.libraryItems());
        }
        parameters.putAll(origin);
        // Placement decides whether this host takes the VM (maintenance, memory, storage, switches, the policy's
        // host groups); a refusal names each reason and is recorded.
        placements.requireRoomHere(caller, operation.auditName(), planned,
                request.newImages().values().stream().mapToLong(i -> i.bytes()).sum(), parameters);
        VmEntity recorded;
        try {
            Supplier<VmEntity> record = () -> QuarkusTransaction.requiringNew()
                    .call(() -> recordCreation(caller, operation, planned, request, parameters));
            // A governed creation takes its owner's quota lock: it waits its turn holding no database connection.
            recorded = policies.govern(caller, Permission.VM_CREATE) ? quotaTurns.inTurn(caller.username(), record) : record.get();
        } catch (org.hibernate.exception.ConstraintViolationException e) {
            throw deviceTaken(caller, operation.auditName(), AuditLog.vm(planned.id()), parameters, e);
        }
        CrashPoints.reached("vm.create.recorded");
        if (!request.copies()) {
            define(caller, operation, planned, request, parameters, percent -> { });
            recorded.pending = null; // as define() committed it: the row as written, not read back
            return new Done(view(recorded));
        }
        // Copying images takes time in proportion to their data: the VM is recorded (as being created,
        // counted in its owner's quota) and the copy runs as a job with progress.
        JobView job = jobs.submit(VmOperation.CREATE.jobKind(), planned.id(), AuditLog.vm(planned.id()), caller.username(),
                progress -> define(caller, operation, planned, request, parameters, progress::percent), error -> { });
        return new Started(job, planned.name());
    }

    /** The engine's part of a creation, then the mark cleared and the outcome recorded; undone in the inventory if it fails. */
    private void define(Caller caller, VmOperation operation, VmDefinition planned, VmRequests.NewVm request,
            Map<String, Object> parameters, java.util.function.LongConsumer progress) {
        String target = AuditLog.vm(planned.id());
        String action = operation.auditName();
        try {
            engine.vms().define(request.definition(), request.newImages(), progress);
        } catch (RuntimeException e) {
            vms.remove(planned.id());
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        CrashPoints.reached("vm.create.defined");
        // The mark cleared and the outcome recorded in one transaction: the VM is settled exactly when the
        // log says so, and a creation commits twice, not three times (the chain's lock is held once less).
        // If it cannot commit, the VM stays marked and the next start settles it (VmReconciler).
        QuarkusTransaction.requiringNew().run(() -> {
            vms.markPending(planned.id(), null);
            audit.record(caller, action, target, Map.of("name", planned.name()), AuditOutcome.SUCCEEDED, null);
        });
        LOG.infof("VM '%s' (%s) %s for %s on host %s", planned.name(), planned.id(),
                operation == VmOperation.IMPORT ? "imported" : "created", caller.username(), localHost.id());
    }

    /**
     * The VM a creation makes, as to its resource controls: those asked for (administrators and operators only:
     * anyone else is refused, and the refusal recorded), or, for a caller policies govern, those their policy
     * imposes on every VM (the host's fairness, which a self-service user neither sets nor lifts).
     */
    private VmRequests.NewVm withPolicyResources(Caller caller, VmOperation operation, VmRequests.NewVm request) {
        VmDefinition def = request.definition();
        if (!def.resources().isNone() && caller.reach(Permission.VM_RESOURCES) == Reach.NONE) {
            String why = "resource controls are the administrators' and operators' to set: create the VM without"
                    + " 'resources'";
            QuarkusTransaction.requiringNew().run(() -> audit.recordDenial(caller, operation.auditName(), null,
                    Map.of("name", String.valueOf(def.name()), "resources", ResourceColumns.describe(def.resources())), why));
            throw new AccessDeniedException(why);
        }
        if (!def.resources().isNone() || !policies.govern(caller, Permission.VM_CREATE)) {
            return request;
        }
        Resources imposed = policies.effective(caller).vmResources().value();
        return imposed == null ? request : new VmRequests.NewVm(def.withResources(imposed), request.newImages(),
                request.templateId(), request.diskItems(), request.bootItem());
    }

    /** The first step of {@link #create}: the policy check under the owner's quota lock, the row, the intent; the row. */
    private VmEntity recordCreation(Caller caller, VmOperation operation, VmDefinition planned, VmRequests.NewVm request,
            Map<String, Object> parameters) {
        Instant leaseEnds = null;
        if (policies.govern(caller, Permission.VM_CREATE)) {
            // Held until commit: nobody else adds to this owner's usage between the check and the insert.
            policies.lockQuota(caller.username());
            CreateCheck check = check(caller, new VmRequests.NewVm(planned, request.newImages(), request.templateId(),
                    request.diskItems(), request.bootItem()));
            if (!check.allowed()) {
                audit.recordDenial(caller, operation.auditName(), null, Map.of("name", String.valueOf(planned.name()),
                        "template", String.valueOf(request.templateId())), String.join("; ", check.reasons()));
                throw new PolicyDeniedException(check.reasons());
            }
            if (check.policy().leaseDays().configured()) {
                leaseEnds = Instant.now().plus(Duration.ofDays(check.policy().leaseDays().value()));
            }
        }
        if (vms.exists(planned.id())) {
            throw new VmAlreadyExistsException(planned.id());
        }
        VmEntity vm = VmEntity.of(planned, caller.username(), localHost.id(), Instant.now());
        vm.pending = VmEntity.Pending.CREATING;
        vm.templateId = request.templateId();
        vm.ownerGroups = caller.groups().stream().sorted().toArray(String[]::new);
        vm.leaseExpiresAt = leaseEnds;
        request.newImages().forEach((position, image) -> vm.disks.get(position).sizeBytes = image.bytes());
        request.diskItems().forEach((position, item) -> vm.disks.get(position).libraryItemId = item);
        vm.bootLibraryItemId = request.bootItem();
        for (DiskEntity disk : vm.disks) {
            if (disk.hostDevice) {
                requireFree(caller, operation.auditName(), AuditLog.vm(vm.id), parameters, "disks[" + disk.position + "].device",
                        disk.path);
                disk.sizeBytes = deviceBytes(disk.path);
            }
        }
        vms.insert(vm);
        for (DiskEntity disk : vm.disks) {
            if (disk.hostDevice) {
                claims.claim(localHost.id(), disk.path, vm.id);
            }
        }
        audit.record(caller, operation.auditName(), AuditLog.vm(vm.id), parameters, AuditOutcome.REQUESTED, null);
        return vm;
    }

    /**
     * Passing host block devices through is for those whose role grants it (administrators), never for
     * self-service: refused (403, audited) before anything of the device is looked at.
     */
    private void requireHostDevices(Caller caller, VmOperation operation, String target, List<String> devices) {
        if (devices.isEmpty() || caller.reach(Permission.HOST_DEVICES) == Reach.ALL) {
            return;
        }
        String reason = "giving a VM a host block device (" + String.join(", ", devices) + ") needs the permission to "
                + Permission.HOST_DEVICES.description() + ", which only administrators (hv-admin) have";
        audit.recordDenial(caller, operation.auditName(), target, Map.of("hostDevices", devices), reason);
        throw new AccessDeniedException(reason);
    }

    /** Refuses (409, audited) a device another VM of this host holds; the claim's key settles a race. */
    private void requireFree(Caller caller, String action, String target, Map<String, Object> parameters, String field,
            String device) {
        Optional<String> holder = claims.holder(localHost.id(), device);
        if (holder.isPresent()) {
            String name = vms.find(holder.get()).map(v -> "VM '" + v.name + "' (" + v.id + ")").orElse("VM " + holder.get());
            String reason = field + ": the host device " + device + " is given to " + name
                    + " already; a device is given to one VM at a time";
            audit.recordFailure(caller, action, target, parameters, reason);
            throw new VmConflictException(reason);
        }
    }

    /** The refusal of a request that lost the race for a device: another VM's claim was written first. */
    private RuntimeException deviceTaken(Caller caller, String action, String target, Map<String, Object> parameters,
            org.hibernate.exception.ConstraintViolationException e) {
        if (!"host_device_claims_pkey".equals(e.getConstraintName())) {
            return e;
        }
        String reason = "the host device was given to another VM at the same moment; a device is given to one VM at a time";
        audit.recordFailure(caller, action, target, parameters, reason);
        return new VmConflictException(reason);
    }

    /** The device's size as the kernel counts it; null where it cannot be read (the engine refuses such a device). */
    private Long deviceBytes(String device) {
        try {
            return new HostBlockDevices(engine.storage().path()).sizeBytes(Path.of(device));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The outcome of {@link #check}; {@code policy} and {@code usage} are null for callers policies do not govern. */
    public record CreateCheck(boolean governed, boolean allowed, List<String> reasons, EffectivePolicy policy, Usage usage) {
    }

    /**
     * What the caller's policies say of creating this VM, given what their VMs take up now: allowed, or
     * every reason not. For callers policies do not govern, always allowed. Changes nothing: this is the
     * dry run, and {@link #create} asks it too (holding the owner's quota lock).
     */
    @Transactional
    public CreateCheck check(Caller caller, VmRequests.NewVm request) {
        if (!policies.govern(caller, Permission.VM_CREATE)) {
            return new CreateCheck(false, true, List.of(), null, null);
        }
        VmDefinition definition = request.definition();
        EffectivePolicy policy = policies.effective(caller);
        Usage usage = policies.usage(caller.username(), null);
        long diskMib = request.newImages().values().stream().mapToLong(i -> (i.bytes() + (1 << 20) - 1) >> 20).sum();
        int existingImages = definition.disks().size() - request.newImages().size();
        // A user's own uploads are theirs to deploy; anyone else's library items, only those their policy names.
        Set<String> consent = request.libraryItems().stream()
                .filter(id -> library.find(id).map(item -> !item.owner.equals(caller.username())).orElse(true))
                .collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new));
        Candidate candidate = new Candidate(request.templateId(), !request.libraryItems().isEmpty(), consent,
                localHost.hostGroup(), definition.vcpus(),
                definition.memoryMib(), diskMib, existingImages, true);
        List<String> reasons = new ArrayList<>(PolicyCheck.refusals(caller.username(), policy, usage, candidate));
        if (definition.cpuHotplug() || definition.memoryLimitMib() > definition.memoryMib()) {
            reasons.addAll(PolicyCheck.maximumRefusals(policy, definition.vcpuLimit(), definition.memoryLimitMib()));
        }
        return new CreateCheck(true, reasons.isEmpty(), reasons, policy, usage);
    }

    /**
     * Changes a VM's settings. A new name is taken in any state; anything else only while the VM is Off
     * (the engine refuses otherwise, naming the state). Nothing changed is no change and no audit entry.
     */
    @Transactional
    public VmView reconfigure(Caller caller, String id, VmSettings settings) {
        // Loaded in this transaction: the row is managed, so the settings applied below are written at commit.
        VmEntity vm = access.require(caller, id, VmOperation.RECONFIGURE);
        requireActionable(vm);
        VmDefinition before = engine.vms().status(vm.id).definition();
        VmDefinition after = settings.applyTo(before);
        Map<String, Object> changes = settings.changes(before, after);
        if (changes.isEmpty()) {
            return view(vm);
        }
        String action = VmOperation.RECONFIGURE.auditName();
        boolean grows = after.vcpus() > before.vcpus() || after.memoryMib() > before.memoryMib()
                || after.vcpuLimit() > before.vcpuLimit() || after.memoryLimitMib() > before.memoryLimitMib();
        if (grows && policies.govern(caller, Permission.VM_RECONFIGURE)) {
            policies.lockQuota(vm.owner);
            Usage others = policies.usage(vm.owner, vm.id);
            long diskMib = vm.disks.stream().mapToLong(d -> d.sizeBytes == null ? 0 : d.sizeBytes >> 20).sum();
            List<String> reasons = new ArrayList<>(PolicyCheck.refusals(caller.username(), policies.effective(caller), others,
                    new Candidate(vm.templateId, localHost.hostGroup(), after.vcpus(), after.memoryMib(), diskMib, 0, false)));
            reasons.addAll(PolicyCheck.maximumRefusals(policies.effective(caller), after.vcpuLimit(), after.memoryLimitMib()));
            if (!reasons.isEmpty()) {
                audit.recordDenial(caller, action, AuditLog.vm(vm.id), changes, String.join("; ", reasons));
                throw new PolicyDeniedException(reasons);
            }
        }
        boolean renameOnly = changes.keySet().equals(Set.of("name"));
        try {
            apply(vm.id, renameOnly, after);
        } catch (EngineException e) {
            audit.recordFailure(caller, action, AuditLog.vm(vm.id), changes, e.getMessage());
            throw e;
        }
        try {
            vm.applySettings(after);
            vm.updatedAt = Instant.now();
            VmEntity.flush();
            audit.record(caller, action, AuditLog.vm(vm.id), changes, AuditOutcome.SUCCEEDED, null);
        } catch (RuntimeException e) {
            // The engine took the change but the inventory could not: put the engine back as it was.
            apply(vm.id, renameOnly, before);
            throw e;
        }
        LOG.infof("VM '%s' (%s) reconfigured by %s: %s", vm.name, vm.id, caller.username(), changes);
        return view(vm);
    }

    private void apply(String id, boolean renameOnly, VmDefinition definition) {
        if (renameOnly) {
            engine.vms().rename(id, definition.name());
        } else {
            engine.vms().redefine(definition);
        }
    }

    /**
     * Deletes an Off or Saved VM with the disks it owns (the blank disks created for it); images it only
     * used stay. Intent first, as for {@link #create}: the row is marked {@code DELETING} with the
     * request's audit entry before the engine deletes anything, and goes with the outcome's entry after.
     * Returns the disk images deleted.
     */
    public List<String> delete(Caller caller, String id) {
        String target = AuditLog.vm(id);
        String action = VmOperation.DELETE.auditName();
        String name = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.DELETE);
            requireActionable(vm);
            engine.vms().find(id).ifPresent(status -> VmStateMachine.check(VmOperation.DELETE.engineAction(), status.state(), vm.name));
            vms.markPending(id, VmEntity.Pending.DELETING);
            audit.record(caller, action, target, Map.of("name", vm.name), AuditOutcome.REQUESTED, null);
            return vm.name;
        });
        CrashPoints.reached("vm.delete.recorded");
        List<String> kept;
        List<String> deleted;
        try {
            kept = keptDisks(vms.find(id).orElseThrow(() -> new VmNotFoundException(id)));
            deleted = deleteFromEngine(id);
        } catch (RuntimeException e) {
            vms.markPending(id, null);
            audit.recordOutcome(caller, action, target, Map.of("name", name), e.getMessage());
            throw e;
        }
        CrashPoints.reached("vm.delete.deleted");
        vms.remove(id);
        audit.recordOutcome(caller, action, target, deletion(name, deleted, kept), null);
        LOG.infof("VM '%s' (%s) deleted by %s on host %s", name, id, caller.username(), localHost.id());
        return deleted;
    }

    /** The disks of the VM that it only used (images it does not own): kept when it is deleted. */
    List<String> keptDisks(VmEntity vm) {
        return vm.disks.stream().map(d -> d.path).filter(p -> !engine.images().owns(vm.id, Path.of(p))).toList();
    }

    /** What a deletion's audit entry says: the VM's name, the disks deleted and those kept. */
    static Map<String, Object> deletion(String name, List<String> deleted, List<String> kept) {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("name", name);
        parameters.put("deletedDisks", deleted);
        parameters.put("keptDisks", kept);
        return parameters;
    }

    List<String> deleteFromEngine(String id) {
        try {
            return engine.vms().delete(id).stream().map(Object::toString).toList();
        } catch (VmNotFoundException e) {
            LOG.infof("VM %s was already gone from the engine", id);
            return List.of();
        }
    }

    /**
     * A lifecycle operation. Quick ones are done before this returns; long ones (start, save, shut-down)
     * run as a job. One the VM's state does not allow is refused at once (409), audited as failed.
     */
    /** What an administrator asks of "store in library": the new template's id, name and description. */
    public record StoreRequest(String template, String name, String description) {
    }

    /**
     * Stores an Off VM in the library as a template, as a job: its disks are copied (linked clones
     * flattened) into library disk images. The VM is marked as being stored (every action on it is refused
     * meanwhile, so it stays Off) until the job ends. Intent first, like every VM operation.
     */
    public Started store(Caller caller, String id, StoreRequest request) {
        List<FieldError> v = new ArrayList<>();
        if (request == null || request.template() == null || !TEMPLATE_ID.matcher(request.template()).matches()) {
            v.add(new FieldError("template", "is required: the new template's id, 1 to 40 lower-case letters, digits or dashes"));
        } else if (templates.find(request.template()).isPresent()) {
            v.add(new FieldError("template", "a template '" + request.template() + "' exists already"));
        }
        String name = request == null ? null : request.name();
        if (name == null || name.isBlank() || name.length() > 64 || name.chars().anyMatch(Character::isISOControl)) {
            v.add(new FieldError("name", "is required: at most 64 characters, without control characters"));
        }
        if (request != null && request.description() != null && request.description().length() > 1000) {
            v.add(new FieldError("description", "must be at most 1000 characters"));
        }
        if (!v.isEmpty()) {
            throw new InvalidRequestException("store in library", v);
        }
        String action = VmOperation.STORE.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> parameters = Map.of("template", request.template(), "name", name);
        VmDefinition definition = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.STORE);
            requireActionable(vm);
            VmStatus status = engine.vms().status(vm.id);
            if (status.state() != VmState.OFF) {
                throw new VmConflictException("VM '" + vm.name + "' is " + status.state().displayName()
                        + "; it is stored in the library while it is Off, so its disks hold still");
            }
            refuseWithHostDevices(caller, action, target, vm, "stored in the library");
            vms.markPending(vm.id, VmEntity.Pending.STORING);
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
            return status.definition();
        });
        JobView job = jobs.submit(VmOperation.STORE.jobKind(), id, "template:" + request.template(), caller.username(),
                progress -> templateStore.store(caller, definition, request.template(), name, request.description(), progress),
                error -> {
                    // The end is in the log before the VM is free again: whatever is asked of it next comes after.
                    try {
                        audit.recordOutcome(caller, action, target, parameters, error);
                    } finally {
                        vms.markPending(id, null);
                    }
                });
        return new Started(job, definition.name());
    }

    public Outcome act(Caller caller, String id, VmOperation operation) {
        if (!operation.isLifecycle()) {
            throw new IllegalArgumentException(operation + " is not a lifecycle operation");
        }
        VmEntity vm = access.require(caller, id, operation);
        requireSettled(vm);
        if (!isHere(vm)) {
            return actThere(caller, vm, operation);
        }
        String action = operation.auditName();
        String target = AuditLog.vm(id);
        try {
            VmStatus status = engine.vms().status(id);
            VmStateMachine.check(operation.engineAction(), status.state(), status.name());
        } catch (EngineException e) {
            audit.recordFailure(caller, action, target, null, e.getMessage());
            throw e;
        }
        // Intent first: nothing is asked of the engine unless the log has taken the request (503 if not).
        audit.recordIntent(caller, action, target, null);
        if (operation.runsAsJob()) {
            JobView job = jobs.submit(operation, id, caller.username(),
                    () -> perform(operation, id), error -> audit.recordOutcome(caller, action, target, null, error));
            return new Started(job, vm.name);
        }
        try {
            perform(operation, id);
        } catch (EngineException e) {
            audit.recordOutcome(caller, action, target, null, e.getMessage());
            throw e;
        }
        audit.recordOutcome(caller, action, target, null, null);
        return new Done(view(vms.find(id).orElseThrow(() -> new VmNotFoundException(id))));
    }

    /**
     * A lifecycle operation on a VM another host owns: decided and audited here as for one of this host's (intent
     * first, then the outcome), carried out by the owner's server ({@link PeerHosts}). The owner checks the VM's
     * state again; its refusal, or a failure to reach it (503, 504, naming the host), is the outcome recorded.
     */
    private Outcome actThere(Caller caller, VmEntity vm, VmOperation operation) {
        String action = operation.auditName();
        String target = AuditLog.vm(vm.id);
        Map<String, Object> parameters = Map.of("host", vm.hostId);
        try {
            // The state the owner last recorded: a request it does not allow is refused at once, as for a VM of this
            // host (the owner checks again against its engine); so is one for an owner whose lease has expired.
            VmStateMachine.check(operation.engineAction(), vm.state, vm.name);
            peers.requireLive(vm.hostId, operation.path() + " VM " + vm.id);
        } catch (EngineException | PeerException e) {
            audit.recordFailure(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        audit.recordIntent(caller, action, target, parameters);
        if (operation.runsAsJob()) {
            JobView job = jobs.submit(operation, vm.id, caller.username(),
                    () -> peers.act(vm.hostId, vm.id, operation, caller.username()),
                    error -> audit.recordOutcome(caller, action, target, parameters, error));
            return new Started(job, vm.name);
        }
        VmState now;
        try {
            now = peers.act(vm.hostId, vm.id, operation, caller.username());
        } catch (RuntimeException e) {
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        audit.recordOutcome(caller, action, target, parameters, null);
        VmEntity after = vms.find(vm.id).orElseThrow(() -> new VmNotFoundException(vm.id));
        // The owner's state writer records it shortly; the caller sees what the owner reported now.
        after.state = now;
        return new Done(view(after));
    }

    /**
     * Carries out, on this host's engine, a lifecycle operation another host's server decided and audited for its
     * caller ({@code requestedBy}, named in this host's log). Refused (409) for a VM this host does not own or
     * one being created or deleted, and where the VM's state does not allow it; the VM's state afterwards.
     */
    public VmState actForPeer(Caller peer, String id, PeerApi.OperationRequest request) {
        VmOperation operation = request == null ? null : request.operation();
        if (operation == null || !operation.isLifecycle()) {
            throw new InvalidRequestException("operation", List.of(new FieldError("operation", "is required: one of "
                    + VmOperation.lifecycle().stream().map(Enum::name).toList())));
        }
        VmEntity vm = vms.find(id).orElseThrow(() -> new VmNotFoundException(id));
        requireActionable(vm);
        VmStatus status = engine.vms().status(id);
        VmStateMachine.check(operation.engineAction(), status.state(), status.name());
        VmStatus after = perform(operation, id);
        LOG.infof("VM '%s' (%s): %s carried out on host %s for %s, as host %s's server asked (as %s); now %s", vm.name, id,
                operation.path(), localHost.id(), request.requestedBy(), request.fromHost(), peer.username(),
                after.state().displayName());
        return after.state();
    }

    /** The last lines of a VM's serial console, for another host's server (which decided who may read them). */
    public List<String> serialForPeer(String id, int lines) {
        requireActionable(vms.find(id).orElseThrow(() -> new VmNotFoundException(id)));
        return engine.vms().serialTail(id, lines);
    }

    /** What the engine does for each lifecycle operation. */
    private VmStatus perform(VmOperation operation, String id) {
        var engineVms = engine.vms();
        return switch (operation) {
            case START -> engineVms.start(id);
            case SHUT_DOWN -> engineVms.shutDown(id);
            case TURN_OFF -> engineVms.turnOff(id);
            case PAUSE -> engineVms.pause(id);
            case RESUME -> engineVms.resume(id);
            case SAVE -> engineVms.save(id);
            case RESTART -> engineVms.restart(id);
            case DISCARD_SAVED_STATE -> engineVms.discardSavedState(id);
            case CREATE, READ, SERIAL, METRICS, RECONFIGURE, DELETE, CONSOLE, SCREEN, EXTEND_LEASE, STORE, EXPORT, IMPORT, CHECKPOINT,
                    APPLY_CHECKPOINT, DELETE_CHECKPOINT, RENAME_CHECKPOINT, RESIZE_DISK, ADD_DISK, REMOVE_DISK, SET_RESOURCES,
                    INSERT_MEDIUM, EJECT_MEDIUM, ADD_NIC, REMOVE_NIC, SET_VCPUS, SET_MEMORY, MIGRATE ->
                    throw new IllegalArgumentException(operation + " has a method of its own");
        };
    }

    /**
     * Grows disk {@code position} to {@code sizeMib}, while the VM runs (the guest is told) or not. Governed
     * callers grow it within their disk quota (checked under the owner's quota lock, like a creation). Intent
     * first; the disk's recorded size follows.
     */
    public VmView resizeDisk(Caller caller, String id, int position, Long sizeMib) {
        if (sizeMib == null || sizeMib < 1 || sizeMib > VmRequests.MAX_BLANK_DISK_MIB) {
            throw new InvalidRequestException("disk", List.of(new FieldError("sizeMib",
                    "is required: the disk's new size in MiB, larger than it is now and at most " + VmRequests.MAX_BLANK_DISK_MIB)));
        }
        String action = VmOperation.RESIZE_DISK.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> parameters = Map.of("disk", position, "sizeMib", sizeMib);
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.RESIZE_DISK);
            requireActionable(vm);
            // qcow2 keeps each checkpoint's size with it; an image with internal snapshots is not resized.
            refuseWithCheckpoints(vm, "growing");
            if (policies.govern(caller, Permission.VM_RECONFIGURE)) {
                policies.lockQuota(vm.owner);
                long diskMib = vm.disks.stream().mapToLong(d -> d.position == position ? sizeMib
                        : d.sizeBytes == null ? 0 : d.sizeBytes >> 20).sum();
                List<String> reasons = PolicyCheck.refusals(caller.username(), policies.effective(caller),
                        policies.usage(vm.owner, vm.id), new Candidate(vm.templateId, localHost.hostGroup(), vm.vcpus,
                                vm.memoryMib, diskMib, 0, false));
                if (!reasons.isEmpty()) {
                    audit.recordDenial(caller, action, target, parameters, String.join("; ", reasons));
                    throw new PolicyDeniedException(reasons);
                }
            }
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
        });
        long before;
        try {
            before = engine.vms().resizeDisk(id, position, sizeMib << 20);
        } catch (EngineException e) {
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        QuarkusTransaction.requiringNew().run(() -> io.hypervise.server.inventory.DiskEntity.update(
                "sizeBytes = ?1 where vm.id = ?2 and position = ?3", sizeMib << 20, id, (short) position));
        audit.recordOutcome(caller, action, target, Map.of("disk", position, "sizeMib", sizeMib, "fromMib", before >> 20), null);
        LOG.infof("VM (%s): disk %d grown from %d to %d MiB by %s on host %s", id, position, before >> 20, sizeMib,
                caller.username(), localHost.id());
        return get(caller, id);
    }

    /**
     * Sets the VM's resource controls (all of them: a field left out is a control removed), running or not;
     * running, the worker's cgroup and QEMU's throttle group change at once, and a change the host refuses
     * leaves the old controls in force. Intent first; the inventory follows what the engine did.
     */
    public VmView changeResources(Caller caller, String id, Resources resources) {
        Resources wanted = resources == null ? Resources.NONE : resources;
        String action = VmOperation.SET_RESOURCES.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> parameters = ResourceColumns.describe(wanted);
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.SET_RESOURCES);
            requireActionable(vm);
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
        });
        try {
            engine.vms().changeResources(id, wanted);
        } catch (EngineException e) {
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        QuarkusTransaction.requiringNew().run(() -> vms.find(id).ifPresent(vm -> vm.resources = ResourceColumns.of(wanted)));
        audit.recordOutcome(caller, action, target, parameters, null);
        LOG.infof("VM (%s): resource controls set to %s by %s on host %s", id, parameters, caller.username(), localHost.id());
        return get(caller, id);
    }

    /**
     * Puts library ISO {@code itemId} into the VM's CD-ROM drive, running or not (running: the guest sees it at
     * once; Off: a VM without a drive gets one). The caller must be allowed to use the item as when creating a
     * VM from it: one they may see, an ISO, on this host (else 400 naming {@code library}), and for callers
     * policies govern, their own upload or one their policies name (else 403). Adding a drive is refused while
     * the VM has checkpoints, which know only the devices it had. Intent first; the inventory follows the engine.
     */
    public VmView insertMedium(Caller caller, String id, String itemId) {
        String action = VmOperation.INSERT_MEDIUM.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("library", itemId == null ? "" : itemId);
        io.hypervise.server.library.LibraryItemEntity item = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.INSERT_MEDIUM);
            requireActionable(vm);
            List<FieldError> v = new ArrayList<>();
            Optional<io.hypervise.server.library.LibraryItemEntity> usable = itemId == null || itemId.isBlank()
                    ? Optional.empty() : library.usable(caller, itemId, io.hypervise.server.library.ItemKind.ISO, "library", v);
            if (itemId == null || itemId.isBlank()) {
                v.add(new FieldError("library", "is required: the id of an ISO image in the library (GET /api/v1/library?kind=iso)"));
            }
            if (usable.isEmpty()) {
                audit.recordFailure(caller, action, target, parameters, v.getFirst().field() + ": " + v.getFirst().message());
                throw new InvalidRequestException("CD-ROM medium", v);
            }
            parameters.put("name", usable.get().name);
            if (policies.govern(caller, Permission.VM_RECONFIGURE)) {
                String refusal = PolicyCheck.libraryItemRefusal(caller.username(), policies.effective(caller), itemId,
                        usable.get().owner);
                if (refusal != null) {
                    audit.recordDenial(caller, action, target, parameters, refusal);
                    throw new PolicyDeniedException(List.of(refusal));
                }
            }
            if (!vm.cdromDrive && io.hypervise.server.checkpoint.CheckpointEntity.count("vmId", vm.id) > 0) {
                String why = "VM '" + vm.name + "' has no CD-ROM drive, and its checkpoints know only the devices it had"
                        + " when they were taken; a drive can be added once they are deleted";
                audit.recordFailure(caller, action, target, parameters, why);
                throw new VmConflictException(why);
            }
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
            return usable.get();
        });
        changeMedium(caller, id, action, parameters, library.pathOf(item), item.id);
        LOG.infof("VM (%s): ISO '%s' (%s) inserted into its CD-ROM drive by %s on host %s", id, item.name, item.id,
                caller.username(), localHost.id());
        return get(caller, id);
    }

    /** Ejects what is in the VM's CD-ROM drive, running or not; an empty drive stays empty. 409 for a VM without one. */
    public VmView ejectMedium(Caller caller, String id) {
        String action = VmOperation.EJECT_MEDIUM.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> parameters = new LinkedHashMap<>();
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.EJECT_MEDIUM);
            requireActionable(vm);
            if (vm.cdromImage != null) {
                parameters.put("image", vm.cdromImage);
            }
            if (vm.bootLibraryItemId != null && vm.cdromImage != null) {
                parameters.put("library", vm.bootLibraryItemId);
            }
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
        });
        changeMedium(caller, id, action, parameters, null, null);
        LOG.infof("VM (%s): CD-ROM drive emptied by %s on host %s", id, caller.username(), localHost.id());
        return get(caller, id);
    }

    private void changeMedium(Caller caller, String id, String action, Map<String, Object> parameters, Path iso, String itemId) {
        String target = AuditLog.vm(id);
        try {
            engine.vms().changeMedium(id, iso);
        } catch (EngineException e) {
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        io.hypervise.engine.vm.definition.CdRom now = engine.vms().status(id).definition().cdrom();
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = VmEntity.findById(id);
            vm.applyCdRom(now);
            vm.bootLibraryItemId = itemId;
            vm.updatedAt = Instant.now();
        });
        audit.recordOutcome(caller, action, target, parameters, null);
    }

    /**
     * Adds a disk to the VM, running or not (running: the guest sees it at once). Checked as a creation's disks
     * are (format, size, library item the caller may use) and, for governed callers, against their policies and
     * disk quota under the owner's quota lock. Refused while the VM has checkpoints (they could not be applied
     * to a set of disks they do not know). A copy from the library is a job; anything else is done at once.
     */
    public Outcome addDisk(Caller caller, String id, VmRequests.NewDisk disk) {
        String action = VmOperation.ADD_DISK.auditName();
        String target = AuditLog.vm(id);
        long bytes = disk.image() == null ? 0 : disk.image().bytes();
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("format", disk.disk().format().name().toLowerCase(java.util.Locale.ROOT));
        parameters.put("sizeMib", bytes >> 20);
        if (disk.libraryItem() != null) {
            parameters.put("library", disk.libraryItem());
        }
        if (disk.disk().hostDevice()) {
            parameters.remove("sizeMib");
            parameters.put("device", String.valueOf(disk.disk().path()));
        } else if (disk.disk().path() != null) {
            parameters.put("path", disk.disk().path().toString());
        }
        // A device is named by its link-free path, which is how the engine keeps it and the claims know it.
        String device = disk.disk().hostDevice() ? canonicalDevice(disk.disk().path()) : null;
        String name;
        try {
            name = QuarkusTransaction.requiringNew().call(() -> {
                VmEntity vm = access.require(caller, id, VmOperation.ADD_DISK);
                if (disk.disk().hostDevice()) {
                    requireHostDevices(caller, VmOperation.ADD_DISK, target, List.of(String.valueOf(disk.disk().path())));
                }
                requireActionable(vm);
                refuseWithCheckpoints(vm, "adding");
                if (device != null) {
                    // Checked before it is claimed: only a device the host may give is ever written down.
                    Optional<String> problem = engine.vms().hostDeviceProblem(disk.disk().path());
                    if (problem.isPresent()) {
                        audit.recordFailure(caller, action, target, parameters, "device: " + problem.get());
                        throw new io.hypervise.engine.vm.definition.InvalidVmDefinitionException(
                                List.of(new io.hypervise.engine.vm.definition.Violation("device", problem.get())));
                    }
                    requireFree(caller, action, target, parameters, "device", device);
                    claims.claim(localHost.id(), device, vm.id);
                }
                if (policies.govern(caller, Permission.VM_RECONFIGURE)) {
                    policies.lockQuota(vm.owner);
                    long diskMib = vm.disks.stream().mapToLong(d -> d.sizeBytes == null ? 0 : d.sizeBytes >> 20).sum() + (bytes >> 20);
                    Set<String> consent = disk.libraryItem() == null ? Set.of() : library.find(disk.libraryItem())
                            .filter(item -> !item.owner.equals(caller.username())).map(item -> Set.of(item.id)).orElse(Set.of());
                    List<String> reasons = PolicyCheck.refusals(caller.username(), policies.effective(caller),
                            policies.usage(vm.owner, vm.id), new Candidate(vm.templateId, disk.libraryItem() != null, consent,
                                    localHost.hostGroup(), vm.vcpus, vm.memoryMib, diskMib, disk.disk().path() != null ? 1 : 0, false));
                    if (!reasons.isEmpty()) {
                        audit.recordDenial(caller, action, target, parameters, String.join("; ", reasons));
                        throw new PolicyDeniedException(reasons);
                    }
                }
                audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
                return vm.name;
                });
        } catch (org.hibernate.exception.ConstraintViolationException e) {
            throw deviceTaken(caller, action, target, parameters, e);
        }
        if (!disk.copies()) {
            addDiskNow(caller, id, disk, bytes, parameters, p -> { });
            return new Done(get(caller, id));
        }
        JobView job = jobs.submit(VmOperation.ADD_DISK.jobKind(), id, target, caller.username(),
                progress -> addDiskNow(caller, id, disk, bytes, parameters, progress::percent), error -> { });
        return new Started(job, name);
    }

    private void addDiskNow(Caller caller, String id, VmRequests.NewDisk disk, long bytes, Map<String, Object> parameters,
            java.util.function.LongConsumer progress) {
        String action = VmOperation.ADD_DISK.auditName();
        String target = AuditLog.vm(id);
        int position;
        try {
            position = engine.vms().addDisk(id, disk.disk(), disk.image(), progress);
        } catch (RuntimeException e) {
            releaseDevices(id);
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        List<io.hypervise.engine.vm.definition.Disk> now = engine.vms().status(id).definition().disks();
        Long added = disk.image() != null ? Long.valueOf(bytes)
                : disk.disk().hostDevice() ? deviceBytes(now.getLast().path().toString()) : null;
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = VmEntity.findById(id);
            vm.applyDisks(now, added, disk.libraryItem());
        });
        Map<String, Object> outcome = new LinkedHashMap<>(parameters);
        outcome.put("disk", position);
        audit.recordOutcome(caller, action, target, outcome, null);
        LOG.infof("VM (%s): disk %d added by %s on host %s", id, position, caller.username(), localHost.id());
    }

    /**
     * Removes disk {@code position}, running or not (running: the guest is asked to let go of it first). An
     * image made for the VM is deleted with it; one it only used stays. Refused while the VM has checkpoints.
     */
    public VmView removeDisk(Caller caller, String id, int position) {
        String action = VmOperation.REMOVE_DISK.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> parameters = Map.of("disk", position);
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.REMOVE_DISK);
            requireActionable(vm);
            refuseWithCheckpoints(vm, "removing");
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
        });
        java.util.Optional<Path> deleted;
        try {
            deleted = engine.vms().removeDisk(id, position);
        } catch (EngineException e) {
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        List<io.hypervise.engine.vm.definition.Disk> now = engine.vms().status(id).definition().disks();
        QuarkusTransaction.requiringNew().run(() -> {
            VmEntity vm = VmEntity.findById(id);
            vm.applyDisks(now, null, null);
        });
        releaseDevices(id);
        audit.recordOutcome(caller, action, target, Map.of("disk", position, "deleted",
                deleted.map(Path::toString).orElse("nothing: the VM only used the image")), null);
        LOG.infof("VM (%s): disk %d removed by %s on host %s", id, position, caller.username(), localHost.id());
        return get(caller, id);
    }

    /** The device's path with its links resolved; as given when it cannot be (the engine then says why). */
    private static String canonicalDevice(Path device) {
        try {
            return device == null ? null : device.toRealPath().toString();
        } catch (IOException | RuntimeException e) {
            return device.toString();
        }
    }

    /**
     * At start: lets go of the claims a server that died during a disk's addition or removal left for devices no
     * VM's definition has (a VM being created keeps its claims until its creation is settled).
     */
    void releaseStaleDeviceClaims() {
        for (String id : claims.holders(localHost.id())) {
            boolean creating = vms.find(id).map(vm -> vm.pending == VmEntity.Pending.CREATING).orElse(false);
            if (!creating) {
                releaseDevices(id);
            }
        }
    }

    /** Lets go of the claims of the VM's that name no device its engine definition has (one removed, or never added). */
    private void releaseDevices(String id) {
        java.util.Set<String> kept = engine.vms().find(id).map(s -> s.definition().disks().stream().filter(Disk::hostDevice)
                .map(d -> d.path().toString()).collect(java.util.stream.Collectors.toSet())).orElse(Set.of());
        for (String device : claims.heldBy(localHost.id(), id)) {
            if (!kept.contains(device)) {
                claims.release(localHost.id(), device, id);
            }
        }
    }

    /**
     * Refuses (409, audited) to copy a VM whose disks include a host device: what is on the host's hardware is
     * not a disk image to keep or to carry to another host.
     */
    void refuseWithHostDevices(Caller caller, String action, String target, VmEntity vm, String what) {
        List<String> devices = vm.disks.stream().filter(d -> d.hostDevice)
                .map(d -> d.path + " (disks[" + d.position + "])").toList();
        if (devices.isEmpty()) {
            return;
        }
        String reason = "VM '" + vm.name + "' has the host device " + String.join(", ", devices) + " passed through: a"
                + " host's device cannot be " + what + "; remove it from the VM first";
        audit.recordFailure(caller, action, target, Map.of("name", vm.name), reason);
        throw new VmConflictException(reason);
    }

    /**
     * Adds a network adapter to the VM, running or not (running: the guest sees it at once), on its isolated
     * network or on a switch the caller may use (checked by {@link VmRequests#toNic}). A MAC left out is a random
     * one; a MAC another adapter has, of this VM or any other, is refused. Intent first; the adapters' rows follow.
     */
    public VmView addNic(Caller caller, String id, Nic wanted) {
        String action = VmOperation.ADD_NIC.auditName();
        String target = AuditLog.vm(id);
        Nic nic = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.ADD_NIC);
            requireActionable(vm);
            refuseNicsWithCheckpoints(vm, "adding");
            String mac = wanted.mac();
            if (mac == null) {
                do {
                    mac = Nic.randomMac();
                } while (io.hypervise.server.inventory.NicEntity.count("mac", mac) > 0);
            } else {
                java.util.Optional<io.hypervise.server.inventory.NicEntity> holder =
                        io.hypervise.server.inventory.NicEntity.find("mac", mac).firstResultOptional();
                if (holder.isPresent()) {
                    throw new InvalidRequestException("network adapter", List.of(new FieldError("mac", "is already the MAC of"
                            + " adapter " + holder.get().position + " of VM '" + holder.get().vm.name + "'; each adapter needs its own")));
                }
            }
            Nic chosen = new Nic(mac, wanted.switchId(), wanted.vlan());
            audit.record(caller, action, target, nicParameters(chosen), AuditOutcome.REQUESTED, null);
            return chosen;
        });
        Map<String, Object> parameters = nicParameters(nic);
        int position;
        try {
            position = engine.vms().addNic(id, nic);
        } catch (EngineException e) {
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        List<Nic> now = engine.vms().status(id).definition().nics();
        QuarkusTransaction.requiringNew().run(() -> VmEntity.<VmEntity>findById(id).replaceNics(now));
        Map<String, Object> outcome = new LinkedHashMap<>(parameters);
        outcome.put("nic", position);
        audit.recordOutcome(caller, action, target, outcome, null);
        LOG.infof("VM (%s): network adapter %d (%s) added by %s on host %s", id, position, nic.describe(), caller.username(),
                localHost.id());
        return get(caller, id);
    }

    /** Removes network adapter {@code position}, running or not (running: the guest lets go of it first). */
    public VmView removeNic(Caller caller, String id, int position) {
        String action = VmOperation.REMOVE_NIC.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> parameters = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.REMOVE_NIC);
            requireActionable(vm);
            refuseNicsWithCheckpoints(vm, "removing");
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("nic", position);
            vm.nics.stream().filter(n -> n.position == position).findFirst().ifPresent(n -> p.put("mac", n.mac));
            audit.record(caller, action, target, p, AuditOutcome.REQUESTED, null);
            return p;
        });
        try {
            engine.vms().removeNic(id, position);
        } catch (EngineException e) {
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        List<Nic> now = engine.vms().status(id).definition().nics();
        QuarkusTransaction.requiringNew().run(() -> VmEntity.<VmEntity>findById(id).replaceNics(now));
        audit.recordOutcome(caller, action, target, parameters, null);
        LOG.infof("VM (%s): network adapter %d removed by %s on host %s", id, position, caller.username(), localHost.id());
        return get(caller, id);
    }

    private static Map<String, Object> nicParameters(Nic nic) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("mac", nic.mac());
        p.put("switch", nic.switchId() == null ? "isolated network" : nic.switchId());
        if (nic.vlan() != null) {
            p.put("vlan", nic.vlan());
        }
        return p;
    }

    /**
     * Gives the VM {@code vcpus} vCPUs, running (plugged in or out at once) or not, up to its maximum. Governed
     * callers grow it within their vCPU quota (checked under the owner's quota lock, like a creation). Refused while
     * the VM has checkpoints, which hold the vCPUs it had. Intent first; the inventory follows the engine, also when
     * the guest let go of fewer vCPUs than asked.
     */
    public VmView setVcpus(Caller caller, String id, Integer vcpus) {
        if (vcpus == null) {
            throw new InvalidRequestException("vCPUs", List.of(new FieldError("vcpus", "is required: how many vCPUs the VM is to have")));
        }
        return resize(caller, id, VmOperation.SET_VCPUS, Map.of("vcpus", vcpus), vcpus, null);
    }

    /**
     * Gives the VM {@code memoryMib} of memory, up to its maximum: a running VM's grows (a DIMM), an Off one's is set.
     * Governed callers grow it within their memory quota. Refused while the VM has checkpoints. Intent first; the
     * inventory follows the engine.
     */
    public VmView setMemory(Caller caller, String id, Integer memoryMib) {
        if (memoryMib == null) {
            throw new InvalidRequestException("memory", List.of(new FieldError("memoryMib", "is required: the VM's memory in MiB")));
        }
        return resize(caller, id, VmOperation.SET_MEMORY, Map.of("memoryMib", memoryMib), null, memoryMib);
    }

    private VmView resize(Caller caller, String id, VmOperation operation, Map<String, Object> parameters, Integer vcpus,
            Integer memoryMib) {
        String action = operation.auditName();
        String target = AuditLog.vm(id);
        Map<String, Object> before = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, id, operation);
            requireActionable(vm);
            if (io.hypervise.server.checkpoint.CheckpointEntity.count("vmId", vm.id) > 0) {
                throw new VmConflictException("VM '" + vm.name + "' has checkpoints, which hold the vCPUs and memory it had"
                        + " when they were taken; its " + (vcpus != null ? "vCPUs change" : "memory changes")
                        + " once they are deleted");
            }
            int newVcpus = vcpus == null ? vm.vcpus : vcpus;
            int newMemory = memoryMib == null ? vm.memoryMib : memoryMib;
            boolean grows = newVcpus > vm.vcpus || newMemory > vm.memoryMib;
            if (grows && policies.govern(caller, Permission.VM_RECONFIGURE)) {
                policies.lockQuota(vm.owner);
                long diskMib = vm.disks.stream().mapToLong(d -> d.sizeBytes == null ? 0 : d.sizeBytes >> 20).sum();
                List<String> reasons = PolicyCheck.refusals(caller.username(), policies.effective(caller),
                        policies.usage(vm.owner, vm.id), new Candidate(vm.templateId, localHost.hostGroup(), newVcpus,
                                newMemory, diskMib, 0, false));
                if (!reasons.isEmpty()) {
                    audit.recordDenial(caller, action, target, parameters, String.join("; ", reasons));
                    throw new PolicyDeniedException(reasons);
                }
            }
            audit.record(caller, action, target, parameters, AuditOutcome.REQUESTED, null);
            return Map.<String, Object>of("vcpus", vm.vcpus, "memoryMib", vm.memoryMib);
        });
        try {
            if (vcpus != null) {
                engine.vms().setVcpus(id, vcpus);
            } else {
                engine.vms().setMemory(id, memoryMib);
            }
        } catch (EngineException e) {
            // A guest that let go of some vCPUs only: the inventory says what the worker has.
            followSize(id);
            audit.recordOutcome(caller, action, target, parameters, e.getMessage());
            throw e;
        }
        VmDefinition now = followSize(id);
        Map<String, Object> outcome = new LinkedHashMap<>(parameters);
        if (vcpus != null) {
            outcome.put("fromVcpus", before.get("vcpus"));
        } else {
            outcome.put("fromMemoryMib", before.get("memoryMib"));
        }
        audit.recordOutcome(caller, action, target, outcome, null);
        LOG.infof("VM (%s): %s set from %s to %s by %s on host %s", id, vcpus != null ? "vCPUs" : "memory",
                vcpus != null ? before.get("vcpus") : before.get("memoryMib") + " MiB",
                vcpus != null ? now.vcpus() : now.memoryMib() + " MiB", caller.username(), localHost.id());
        return get(caller, id);
    }

    /** Brings the VM's row to the engine's vCPUs and memory. */
    private VmDefinition followSize(String id) {
        VmDefinition now = engine.vms().status(id).definition();
        QuarkusTransaction.requiringNew().run(() -> vms.find(id).ifPresent(vm -> {
            vm.applySize(now);
            vm.updatedAt = Instant.now();
        }));
        return now;
    }

    /** A checkpoint with memory holds the VM's devices as they were: one with another set of adapters could not take it back. */
    private static void refuseNicsWithCheckpoints(VmEntity vm, String what) {
        if (io.hypervise.server.checkpoint.CheckpointEntity.count("vmId", vm.id) > 0) {
            throw new VmConflictException("VM '" + vm.name + "' has checkpoints, which know only the network adapters it had"
                    + " when they were taken; " + what + " an adapter is possible once they are deleted");
        }
    }

    private static void refuseWithCheckpoints(VmEntity vm, String what) {
        if (io.hypervise.server.checkpoint.CheckpointEntity.count("vmId", vm.id) > 0) {
            throw new VmConflictException("VM '" + vm.name + "' has checkpoints, which know only the disks it had (and"
                    + " their sizes) when they were taken; " + what + " a disk is possible once they are deleted");
        }
    }

    /** Sets when the VM's lease ends, a time in the future; warning and stop start over. */
    public VmView extendLease(Caller caller, String id, Instant until) {
        if (until == null || !until.isAfter(Instant.now())) {
            throw new InvalidRequestException("lease", List.of(new FieldError("expiresAt",
                    "is required: a date-time in the future, such as 2026-12-31T18:00:00Z")));
        }
        access.require(caller, id, VmOperation.EXTEND_LEASE);
        leases.extend(id, until, caller);
        return get(caller, id);
    }

    /** The last lines the guest wrote to its serial console. */
    public List<String> serial(Caller caller, String id, int lines) {
        VmEntity vm = access.require(caller, id, VmOperation.SERIAL);
        requireSettled(vm);
        return isHere(vm) ? engine.vms().serialTail(id, lines) : peers.serial(vm.hostId, id, lines);
    }

    /** The VM's utilization counters over the range. */
    public CounterSeriesView metrics(Caller caller, String id, CounterRange range) {
        access.require(caller, id, VmOperation.METRICS);
        return counters.vm(id, range);
    }

    /**
     * A PNG of the VM's screen, at most {@code width} pixels wide and at most {@code maxAge} old: 409 while
     * the VM has no display (Off, Saved), 503 when its display does not answer.
     */
    public byte[] screen(Caller caller, String id, int width, Duration maxAge) {
        VmEntity vm = access.require(caller, id, VmOperation.SCREEN);
        requireActionable(vm);
        VmDisplay display = engine.vms().display(id);
        if (!display.isAvailable()) {
            throw new VmConflictException("VM '" + vm.name + "' has no screen now: it is " + vm.state);
        }
        try {
            return thumbnails.png(id, display, width, maxAge);
        } catch (DeadlineSocket.NotAnsweringException e) {
            throw new VmScreenUnavailableException("VM '" + vm.name + "' shows no screen now: " + e.getMessage());
        } catch (IOException e) {
            throw new VmConflictException("VM '" + vm.name + "' has no screen now: " + e.getMessage());
        }
    }

    /**
     * Refuses (409, with the reason) to act on a VM this server cannot act on now: one another host
     * runs, or one whose creation or deletion is under way. Every path that reaches this host's engine for a
     * VM asks this first. Lifecycle operations and the serial console are routed to the owner's server
     * instead ({@link #act}, {@link #serial}); everything else about another host's VM is asked of its server.
     */
    public void requireActionable(VmEntity vm) {
        if (!isHere(vm)) {
            throw new VmConflictException("VM '" + vm.name + "' is on host " + vm.hostId + ", not on " + localHost.id()
                    + ", the host of this server; this is done only by the VM's own host's server (lifecycle operations"
                    + " and the serial console are passed on by any server): ask host " + vm.hostId + "'s server");
        }
        requireSettled(vm);
    }

    private boolean isHere(VmEntity vm) {
        return vm.hostId.equals(localHost.id());
    }

    /** Refuses (409) a VM whose creation, deletion, storing or export is under way, on whichever host. */
    private void requireSettled(VmEntity vm) {
        if (vm.pending != null) {
            throw new VmConflictException("VM '" + vm.name + "' is being "
                    + switch (vm.pending) {
                        case CREATING -> "created";
                        case DELETING -> "deleted";
                        case STORING -> "stored in the library";
                        case EXPORTING -> "exported";
                    } + "; try again when that has ended");
        }
    }

    private VmView view(VmEntity vm) {
        return VmView.of(vm, engine.vms().find(vm.id), engine.images());
    }
}
