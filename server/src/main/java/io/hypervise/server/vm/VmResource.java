package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import io.hypervise.engine.qmp.DeadlineSocket;
import io.hypervise.engine.vm.EngineException;
import io.hypervise.engine.vm.VmAction;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.counters.CounterQueries;
import io.hypervise.server.counters.CounterRange;
import io.hypervise.server.counters.CounterSeriesView;
import io.smallrye.common.annotation.RunOnVirtualThread;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.Problem;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.console.Thumbnails;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmFilter;
import io.hypervise.server.inventory.VmInventory;
import io.hypervise.server.inventory.VmSettings;
import io.hypervise.server.policy.LeaseKeeper;
import io.hypervise.server.policy.PolicyDeniedException;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.policy.Usage;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.ForbiddenException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The host's VMs: list, detail, create, delete and lifecycle actions. A caller reaches the VMs their
 * roles allow; for a self-service user other people's VMs do not exist (404, not 403).
 */
@Path("/api/v1/vms")
@Produces(MediaType.APPLICATION_JSON)
public class VmResource {

    private static final int MAX_LINES = 10_000;
    /** How old a thumbnail may be, in seconds, unless the client asks for a fresher one. */
    private static final int DEFAULT_SCREEN_AGE = 5;

    @Inject
    Engine engine;

    @Inject
    CurrentCaller current;

    @Inject
    VmInventory inventory;

    @Inject
    VmRequests requests;

    @Inject
    AuditLog audit;

    @Inject
    Jobs jobs;

    @Inject
    SelfServicePolicies policies;

    @Inject
    LeaseKeeper leases;

    @Inject
    Thumbnails thumbnails;

    @Inject
    CounterQueries counters;

    /** One page of a list, and how many items there are in all. */
    public record Page(List<VmView> items, int page, int size, long total) {
    }

    @GET
    @Requires(Permission.VM_READ)
    public Page list(@QueryParam("owner") String owner, @QueryParam("state") String state,
            @QueryParam("name") String name, @QueryParam("page") String page, @QueryParam("size") String size) {
        List<FieldError> violations = new ArrayList<>();
        int p = QueryParameters.page(page, violations);
        int s = QueryParameters.size(size, violations);
        Optional<VmState> wanted = Optional.ofNullable(state).flatMap(value -> state(value, violations));
        QueryParameters.text("owner", owner, 255, violations);
        QueryParameters.text("name", name, 64, violations);
        QueryParameters.check(violations);
        VmFilter filter = new VmFilter(Optional.ofNullable(owner), wanted, Optional.ofNullable(name));
        var found = inventory.list(current.get(), filter, p, s);
        return new Page(found.items().stream().map(this::view).toList(), p, s, found.total());
    }

    @GET
    @Path("{id}")
    @Requires(Permission.VM_READ)
    public VmView get(@PathParam("id") String id) {
        return view(inventory.visible(current.get(), id, "vm.read"));
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_CREATE)
    public Response create(VmRequest request) {
        VmRequests.NewVm planned = requests.toNewVm(request, true);
        VmEntity vm = inventory.create(planned.definition(), planned.blankDiskBytes(), planned.templateId(), current.get());
        return Response.created(URI.create("/api/v1/vms/" + vm.id)).entity(view(vm)).build();
    }

    /** The answer of a dry run: would the request be allowed, and if not, every reason why. */
    public record CreateCheckView(boolean allowed, boolean governedByPolicies, List<String> reasons,
            List<String> policies, Usage usage) {
    }

    /**
     * A dry run of {@code POST /api/v1/vms}: whether the same request would be allowed by the caller's
     * self-service policies now, and why not; nothing is created or changed. An invalid request is the
     * same 400 as for the real thing.
     */
    @POST
    @Path("check")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_CREATE)
    public CreateCheckView check(VmRequest request) {
        VmRequests.NewVm planned = requests.toNewVm(request, false);
        var check = inventory.checkCreate(planned.definition(), planned.blankDiskBytes(), planned.templateId(), current.get());
        return new CreateCheckView(check.allowed(), check.governed(), check.reasons(),
                check.policy() == null ? List.of() : check.policy().applied().stream().map(p -> p.id()).toList(),
                check.usage());
    }

    /**
     * Changes a VM's settings: the fields given, and only those. A new name is taken in any state;
     * processors, memory, profile and display only while the VM is Off (409 otherwise).
     */
    @PATCH
    @Path("{id}")
    @Consumes({MediaType.APPLICATION_JSON, "application/merge-patch+json"})
    @Requires(Permission.VM_RECONFIGURE)
    public VmView reconfigure(@PathParam("id") String id, VmSettingsRequest request) {
        VmSettings settings = requests.toSettings(request);
        VmEntity vm = inventory.visible(current.get(), id, "vm.reconfigure");
        authorize(Permission.VM_RECONFIGURE, vm, "vm.reconfigure");
        inventory.requireActionable(vm);
        policies.checkAction(current.get(), Permission.VM_RECONFIGURE, SelfServiceAction.RECONFIGURE, "vm.reconfigure", "vm:" + id);
        inventory.reconfigure(id, settings, current.get());
        return view(inventory.visible(current.get(), id, "vm.read"));
    }

    /**
     * Deletes an Off or Saved VM with the disks it owns (the blank disks created for it); images it
     * only used stay where they are. The audit entry lists both.
     */
    @DELETE
    @Path("{id}")
    @Requires(Permission.VM_DELETE)
    public Response delete(@PathParam("id") String id) {
        VmEntity vm = inventory.visible(current.get(), id, "vm.delete");
        authorize(Permission.VM_DELETE, vm, "vm.delete");
        policies.checkAction(current.get(), Permission.VM_DELETE, SelfServiceAction.DELETE, "vm.delete", "vm:" + id);
        inventory.delete(id, current.get());
        return Response.noContent().build();
    }

    /**
     * A lifecycle action: start, pause, resume, save, shut-down, turn-off, restart, discard-saved-state.
     * Quick ones answer 200 with the VM as it is afterwards; long ones (start, save, shut-down) answer
     * 202 with a job to follow at its Location. An action the VM's state does not allow is a 409 at once.
     */
    @POST
    @Path("{id}/{action}")
    @Requires(Permission.VM_OPERATE)
    public Response act(@PathParam("id") String id, @PathParam("action") String actionName) {
        Action action = Arrays.stream(Action.values()).filter(a -> a.path.equals(actionName)).findFirst()
                .orElseThrow(() -> new NotFoundException("no action '" + actionName + "'; actions: "
                        + Arrays.stream(Action.values()).map(a -> a.path).toList()));
        String auditAction = "vm." + action.path;
        VmEntity vm = inventory.visible(current.get(), id, auditAction);
        authorize(Permission.VM_OPERATE, vm, auditAction);
        Caller caller = current.get();
        policies.checkAction(caller, Permission.VM_OPERATE, SelfServiceAction.governing(action.path), auditAction, "vm:" + id);
        if (action == Action.START && vm.leaseStoppedAt != null && policies.govern(caller, Permission.VM_OPERATE)) {
            String reason = "the lease of VM '" + vm.name + "' ended at " + vm.leaseExpiresAt
                    + "; an administrator can extend it";
            audit.recordDenial(caller, auditAction, "vm:" + id, null, reason);
            throw new PolicyDeniedException(List.of(reason));
        }
        inventory.requireActionable(vm);
        Target target = new Target(engine, id);
        try {
            VmStatus status = engine.vms().status(id);
            VmStateMachine.check(action.engineAction, status.state(), status.name());
        } catch (EngineException e) {
            audit.recordFailure(caller, auditAction, "vm:" + id, null, e.getMessage());
            throw e;
        }
        // Intent first: nothing is asked of the engine unless the log has taken the request (503 if not).
        audit.recordIntent(caller, auditAction, "vm:" + id, null);
        if (action.progressOf != null) {
            JobView job = jobs.submit("vm-" + action.path, id, action.progressOf, caller.username(),
                    () -> action.run.apply(target), error -> audit.recordOutcome(caller, auditAction, "vm:" + id, null, error));
            return Response.accepted(job).location(URI.create("/api/v1/jobs/" + job.id())).build();
        }
        try {
            action.run.apply(target);
        } catch (EngineException e) {
            audit.recordOutcome(caller, auditAction, "vm:" + id, null, e.getMessage());
            throw e;
        }
        audit.recordOutcome(caller, auditAction, "vm:" + id, null, null);
        return Response.ok(view(inventory.visible(caller, id, "vm.read"))).build();
    }

    /** What an administrator sends to extend a VM's lease. */
    public record LeaseRequest(Instant expiresAt) {
    }

    /** Sets when the VM's lease ends (administrators: it is part of the policies); warning and stop start over. */
    @PUT
    @Path("{id}/lease")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.POLICY_MANAGE)
    public VmView extendLease(@PathParam("id") String id, LeaseRequest request) {
        if (request == null || request.expiresAt() == null || !request.expiresAt().isAfter(Instant.now())) {
            throw new InvalidRequestException("lease", List.of(new FieldError("expiresAt",
                    "is required: a date-time in the future, such as 2026-12-31T18:00:00Z")));
        }
        inventory.visible(current.get(), id, "vm.lease.extend");
        leases.extend(id, request.expiresAt(), current.get());
        return view(inventory.visible(current.get(), id, "vm.read"));
    }

    /** The last lines the guest wrote to its serial console. */
    @GET
    @Path("{id}/serial")
    @Produces(MediaType.TEXT_PLAIN)
    @Requires(Permission.VM_READ)
    public String serial(@PathParam("id") String id, @QueryParam("lines") String linesParam) {
        List<FieldError> violations = new ArrayList<>();
        int lines = QueryParameters.wholeNumber("lines", linesParam, 100, 1, MAX_LINES, violations);
        QueryParameters.check(violations);
        inventory.requireActionable(inventory.visible(current.get(), id, "vm.serial"));
        List<String> tail = engine.vms().serialTail(id, lines);
        return tail.isEmpty() ? "" : String.join("\n", tail) + "\n";
    }

    /**
     * The VM's utilization counters over [from, to) in steps of {@code step}, from the finest resolution
     * that holds them (raw samples, one-minute or one-hour rollups).
     */
    @GET
    @Path("{id}/metrics")
    @Requires(Permission.VM_READ)
    public CounterSeriesView metrics(@PathParam("id") String id, @QueryParam("from") String from,
            @QueryParam("to") String to, @QueryParam("step") String step) {
        CounterRange range = counters.range(from, to, step);
        inventory.visible(current.get(), id, "vm.metrics");
        return counters.vm(id, range);
    }

    /**
     * A thumbnail of the VM's screen (PNG, at most {@code width} pixels wide), read from the same
     * display stream as the console. Whoever may watch the console may see it; 409 while the VM has
     * no display (Off, Saved); 503 when its display does not answer (within 5 s, or at once when it did
     * not answer the last time). On a virtual thread: waiting for a worker never holds a server thread.
     */
    @GET
    @Path("{id}/screen.png")
    @Produces("image/png")
    @Requires(Permission.VM_CONSOLE_VIEW)
    @RunOnVirtualThread
    public Response screen(@PathParam("id") String id, @QueryParam("width") String widthParam,
            @QueryParam("maxAge") String maxAgeParam) {
        List<FieldError> violations = new ArrayList<>();
        int width = QueryParameters.wholeNumber("width", widthParam, 320, 16, 4096, violations);
        int maxAge = QueryParameters.wholeNumber("maxAge", maxAgeParam, DEFAULT_SCREEN_AGE, 0, 60, violations);
        QueryParameters.check(violations);
        VmEntity vm = inventory.visible(current.get(), id, "vm.screen");
        authorize(Permission.VM_CONSOLE_VIEW, vm, "vm.screen");
        // A screen is the console's: a policy that gives neither the console nor watching it gives no thumbnail.
        if (policies.govern(current.get(), Permission.VM_CONSOLE_VIEW)
                && !policies.effective(current.get()).allows(SelfServiceAction.CONSOLE)) {
            policies.checkAction(current.get(), Permission.VM_CONSOLE_VIEW, SelfServiceAction.CONSOLE_VIEW_ONLY, "vm.screen", "vm:" + id);
        }
        inventory.requireActionable(vm);
        // java.nio.file.Path: this class uses JAX-RS's @Path.
        java.nio.file.Path display = engine.vms().vncSocket(id);
        if (!Files.exists(display)) {
            return Problem.response(409, "VM '" + vm.name + "' has no screen now: it is " + vm.state);
        }
        try {
            byte[] png = thumbnails.png(id, display, width, Duration.ofSeconds(maxAge));
            return Response.ok(png, "image/png").header("Cache-Control", "no-store").build();
        } catch (DeadlineSocket.NotAnsweringException e) {
            return Problem.response(503, "VM '" + vm.name + "' shows no screen now: " + e.getMessage());
        } catch (IOException e) {
            return Problem.response(409, "VM '" + vm.name + "' has no screen now: " + e.getMessage());
        }
    }

    private record Target(Engine engine, String id) {
    }

    /** The API's actions; those with a progress source run as jobs. */
    private enum Action {
        START("start", VmAction.START, VmAction.START, t -> t.engine().vms().start(t.id())),
        PAUSE("pause", VmAction.PAUSE, null, t -> t.engine().vms().pause(t.id())),
        RESUME("resume", VmAction.RESUME, null, t -> t.engine().vms().resume(t.id())),
        SAVE("save", VmAction.SAVE, VmAction.SAVE, t -> t.engine().vms().save(t.id())),
        SHUT_DOWN("shut-down", VmAction.SHUT_DOWN, VmAction.SHUT_DOWN, t -> t.engine().vms().shutDown(t.id())),
        TURN_OFF("turn-off", VmAction.TURN_OFF, null, t -> t.engine().vms().turnOff(t.id())),
        RESTART("restart", VmAction.RESTART, null, t -> t.engine().vms().restart(t.id())),
        DISCARD_SAVED_STATE("discard-saved-state", VmAction.DISCARD_SAVED_STATE, null,
                t -> t.engine().vms().discardSavedState(t.id()));

        final String path;
        final VmAction engineAction;
        final VmAction progressOf;
        final Function<Target, VmStatus> run;

        Action(String path, VmAction engineAction, VmAction progressOf, Function<Target, VmStatus> run) {
            this.path = path;
            this.engineAction = engineAction;
            this.progressOf = progressOf;
            this.run = run;
        }
    }

    private void authorize(Permission permission, VmEntity vm, String auditAction) {
        Caller caller = current.get();
        var decision = caller.decide(permission, vm.owner);
        if (!decision.allowed()) {
            audit.recordDenial(caller, auditAction, "vm:" + vm.id, null, decision.reason());
            throw new ForbiddenException(Problem.response(403, decision.reason()));
        }
    }

    private VmView view(VmEntity vm) {
        return VmView.of(vm, engine.vms().find(vm.id), engine.images());
    }

    private static Optional<VmState> state(String value, List<FieldError> violations) {
        Optional<VmState> found = Arrays.stream(VmState.values())
                .filter(s -> s.displayName().equalsIgnoreCase(value) || s.name().equalsIgnoreCase(value))
                .findFirst();
        if (found.isEmpty()) {
            violations.add(new FieldError("state", "must be one of "
                    + Arrays.stream(VmState.values()).map(VmState::displayName).toList() + "; got '" + value + "'"));
        }
        return found;
    }
}
