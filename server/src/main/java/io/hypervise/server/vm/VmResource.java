package io.hypervise.server.vm;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.EngineException;
import io.hypervise.engine.vm.VmAction;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.engine.vm.VmNotFoundException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.Problem;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmFilter;
import io.hypervise.server.inventory.VmInventory;
import jakarta.inject.Inject;
import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.ForbiddenException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
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
    private static final int MAX_PAGE_SIZE = 500;

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

    /** One page of a list, and how many items there are in all. */
    public record Page(List<VmView> items, int page, int size, long total) {
    }

    @GET
    @Requires(Permission.VM_READ)
    public Page list(@QueryParam("owner") String owner, @QueryParam("state") String state,
            @QueryParam("name") String name, @QueryParam("page") String page, @QueryParam("size") String size) {
        int p = number("page", page, 0, 0, Integer.MAX_VALUE);
        int s = number("size", size, 50, 1, MAX_PAGE_SIZE);
        VmFilter filter = new VmFilter(Optional.ofNullable(owner), Optional.ofNullable(state).map(VmResource::state),
                Optional.ofNullable(name));
        var found = inventory.list(current.get(), filter, p, s);
        return new Page(found.items().stream().map(this::view).toList(), p, s, found.total());
    }

    @GET
    @Path("{id}")
    @Requires(Permission.VM_READ)
    public VmView get(@PathParam("id") String id) {
        return view(inventory.visible(current.get(), id));
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_CREATE)
    public Response create(VmRequest request) {
        VmEntity vm = inventory.create(requests.toDefinition(request), current.get());
        return Response.created(URI.create("/api/v1/vms/" + vm.id)).entity(view(vm)).build();
    }

    @DELETE
    @Path("{id}")
    @Requires(Permission.VM_DELETE)
    public Response delete(@PathParam("id") String id) {
        VmEntity vm = inventory.visible(current.get(), id);
        authorize(Permission.VM_DELETE, vm, "vm.delete");
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
        VmEntity vm = inventory.visible(current.get(), id);
        String auditAction = "vm." + action.path;
        authorize(Permission.VM_OPERATE, vm, auditAction);
        Caller caller = current.get();
        Target target = new Target(engine, id);
        try {
            VmStatus status = engine.vms().status(id);
            VmStateMachine.check(action.engineAction, status.state(), status.name());
            if (action.progressOf != null) {
                JobView job = jobs.submit("vm-" + action.path, id, action.progressOf, caller.username(),
                        () -> action.run.apply(target), error -> recordOutcome(caller, auditAction, id, error));
                return Response.accepted(job).location(URI.create("/api/v1/jobs/" + job.id())).build();
            }
            action.run.apply(target);
        } catch (EngineException e) {
            recordOutcome(caller, auditAction, id, e.getMessage());
            throw e;
        }
        recordOutcome(caller, auditAction, id, null);
        return Response.ok(view(inventory.visible(caller, id))).build();
    }

    private void recordOutcome(Caller caller, String auditAction, String id, String error) {
        QuarkusTransaction.requiringNew().run(() -> audit.record(caller, auditAction, "vm:" + id, null,
                error == null ? AuditOutcome.SUCCEEDED : AuditOutcome.FAILED, error));
    }

    /** The last lines the guest wrote to its serial console. */
    @GET
    @Path("{id}/serial")
    @Produces(MediaType.TEXT_PLAIN)
    @Requires(Permission.VM_READ)
    public String serial(@PathParam("id") String id, @QueryParam("lines") String linesParam) {
        int lines = number("lines", linesParam, 100, 1, MAX_LINES);
        inventory.visible(current.get(), id);
        List<String> tail = engine.vms().serialTail(id, lines);
        return tail.isEmpty() ? "" : String.join("\n", tail) + "\n";
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
        Optional<VmStatus> live;
        try {
            live = Optional.of(engine.vms().status(vm.id));
        } catch (VmNotFoundException e) {
            live = Optional.empty();
        }
        return VmView.of(vm, live);
    }

    private static VmState state(String value) {
        return Arrays.stream(VmState.values())
                .filter(s -> s.displayName().equalsIgnoreCase(value) || s.name().equalsIgnoreCase(value))
                .findFirst()
                .orElseThrow(() -> new BadRequestException("state: must be one of "
                        + Arrays.stream(VmState.values()).map(VmState::displayName).toList() + "; got '" + value + "'"));
    }

    private static int number(String name, String value, int fallback, int min, int max) {
        if (value == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below, like an out-of-range number
        }
        throw new BadRequestException(name + ": must be a whole number from " + min + " to " + max + "; got '" + value + "'");
    }
}
