package io.hypervise.server.vm;

import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Requires;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.jobs.Accepted;
import io.hypervise.server.inventory.VmCursor;
import io.hypervise.server.counters.CounterQueries;
import io.hypervise.server.counters.CounterSeriesView;
import io.hypervise.server.policy.Usage;
import io.smallrye.common.annotation.RunOnVirtualThread;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import io.hypervise.server.api.NotFoundRefusal;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The host's VMs over HTTP: list, detail, create, delete and lifecycle operations. Thin: it reads the
 * request, asks {@link VmService}, and shapes the answer; the rules are the service's.
 */
@Path("/api/v1/vms")
@Produces(MediaType.APPLICATION_JSON)
public class VmResource {

    private static final int MAX_LINES = 10_000;
    /** How old a thumbnail may be, in seconds, unless the client asks for a fresher one. */
    private static final int DEFAULT_SCREEN_AGE = 5;

    @Inject
    VmService vms;

    @Inject
    VmMigrations migrations;

    @Inject
    CurrentCaller current;

    @Inject
    VmRequests requests;

    @Inject
    CounterQueries counters;

    @Inject
    VmArchives archives;

    /**
     * One page of a list, how many items there are in all, and {@code next}: the cursor to send as
     * {@code after} for the page that follows (null on the last page).
     */
    public record Page(List<VmView> items, int page, int size, long total, String next) {
    }

    @GET
    @Requires(Permission.VM_READ)
    public Page list(@QueryParam("owner") String owner, @QueryParam("state") String state,
            @QueryParam("name") String name, @QueryParam("page") String page, @QueryParam("size") String size,
            @QueryParam("after") String after) {
        VmQuery query = VmQuery.parse(owner, state, name, page, size, after);
        var found = vms.list(current.get(), query);
        return new Page(found.items(), found.page(), found.size(), found.total(),
                found.next().map(VmCursor::encode).orElse(null));
    }

    @GET
    @Path("{id}")
    @Requires(Permission.VM_READ)
    public VmView get(@PathParam("id") String id) {
        return vms.get(current.get(), id);
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_CREATE)
    public Response create(VmRequest request) {
        return switch (vms.create(current.get(), requests.toNewVm(request, true))) {
            case VmService.Done done -> Response.created(URI.create("/api/v1/vms/" + done.vm().id())).entity(done.vm()).build();
            // A disk copied from the library: the VM exists (being created) and the copy is a job to follow.
            case VmService.Started started -> accepted(started);
        };
    }

    /** The answer of a dry run: would the request be allowed, and if not, every reason why. */
    public record CreateCheckView(boolean allowed, boolean governedByPolicies, List<String> reasons,
            List<String> policies, Usage usage) {

        static CreateCheckView of(VmService.CreateCheck check) {
            return new CreateCheckView(check.allowed(), check.governed(), check.reasons(),
                    check.policy() == null ? List.of() : check.policy().applied().stream().map(p -> p.id()).toList(),
                    check.usage());
        }
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
        return CreateCheckView.of(vms.check(current.get(), requests.toNewVm(request, false)));
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
        return vms.reconfigure(current.get(), id, requests.toSettings(request));
    }

    /**
     * Deletes an Off or Saved VM with the disks it owns (the blank disks created for it); images it
     * only used stay where they are. The audit entry lists both.
     */
    @DELETE
    @Path("{id}")
    @Requires(Permission.VM_DELETE)
    public Response delete(@PathParam("id") String id) {
        vms.delete(current.get(), id);
        return Response.noContent().build();
    }

    /**
     * A lifecycle operation ({@link VmOperation#lifecycle()}). Quick ones answer 200 with the VM as it is
     * afterwards; long ones (start, save, shut-down) answer 202 with a job to follow at its Location. An
     * operation the VM's state does not allow is a 409 at once.
     */
    @POST
    @Path("{id}/{action}")
    @Requires(Permission.VM_OPERATE)
    public Response act(@PathParam("id") String id, @PathParam("action") String path) {
        VmOperation operation = VmOperation.lifecycle(path).orElseThrow(() -> new NotFoundRefusal("no action '" + path
                + "'; actions: " + VmOperation.lifecycle().stream().map(VmOperation::path).toList()));
        return switch (vms.act(current.get(), id, operation)) {
            case VmService.Done done -> Response.ok(done.vm()).build();
            case VmService.Started started -> accepted(started);
        };
    }

    /**
     * Moves the running (or paused) VM live to another host ({@code {"host": "..."}}, or, without a body or host,
     * the host placement rates best), as a job on the VM's own host's server: 202 with the job to follow.
     */
    @POST
    @Path("{id}/migrate")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_MIGRATE)
    public Response migrate(@PathParam("id") String id, VmMigrations.MigrateRequest request) {
        return accepted(migrations.migrate(current.get(), id, request));
    }

    /** Stores the Off VM in the library as a new template (its disks copied, linked clones flattened), as a job. */
    @POST
    @Path("{id}/store")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.TEMPLATE_MANAGE)
    public Response store(@PathParam("id") String id, VmService.StoreRequest request) {
        return accepted(vms.store(current.get(), id, request));
    }

    /**
     * The Off VM as one archive ({@link VmArchive}: its definition and its disks, with their SHA-256), to
     * import elsewhere with {@code POST /api/v1/vms/import}. Streamed, its length known ahead; the VM is
     * held Off until the last byte is sent.
     */
    @GET
    @Path("{id}/export")
    @Produces("application/x-tar")
    @Requires(Permission.VM_EXPORT)
    @RunOnVirtualThread
    public Response export(@PathParam("id") String id) {
        return archives.export(current.get(), id).response();
    }

    /** What an import made: the VM, and what of the archive it could not carry over. */
    public record ImportView(VmView vm, List<String> notCarried) {
    }

    /**
     * A new VM from an archive made by {@code GET /api/v1/vms/{id}/export}, sent as the request's body
     * ({@code curl -T web-1.hvm.tar}); checked, policies and quota included, like a creation. Its name is the
     * archive's unless {@code name} gives another.
     */
    @POST
    @Path("import")
    @Consumes(MediaType.WILDCARD)
    @Requires(Permission.VM_CREATE)
    @RunOnVirtualThread
    public Response importArchive(@QueryParam("name") String name, java.io.InputStream body) {
        VmArchives.Imported imported = archives.importArchive(current.get(), body, name);
        return Response.created(URI.create("/api/v1/vms/" + imported.vm().id()))
                .entity(new ImportView(imported.vm(), imported.notCarried())).build();
    }

    /** The VM's resource controls: a field that is null is a control not set. */
    @GET
    @Path("{id}/resources")
    @Requires(Permission.VM_READ)
    public Resources resources(@PathParam("id") String id) {
        return vms.get(current.get(), id).resources();
    }

    /**
     * Sets all of the VM's resource controls at once (a field left out is a control removed), running or not:
     * running, they take hold at once. 400 naming {@code resources.<field>} for a value out of range or one
     * this host cannot enforce; nothing changes then.
     */
    @PUT
    @Path("{id}/resources")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_RESOURCES)
    public VmView setResources(@PathParam("id") String id, Resources resources) {
        if (resources == null) {
            throw new InvalidRequestException("resource controls", List.of(new FieldError("body",
                    "is required: a JSON object of the controls to set ({} for none)")));
        }
        return vms.changeResources(current.get(), id, resources);
    }

    /** What a client sends to change a VM's vCPUs. */
    public record VcpusChange(Integer vcpus) {
    }

    /**
     * Gives the VM {@code vcpus} vCPUs, running or not, up to its {@code maxVcpus}: running, they are only added,
     * plugged in at once (the guest brings them online); Off, they are set. 200 with the VM; 400 naming {@code vcpus}
     * beyond the maximum or below what a running VM has (QEMU 7.2 is left unsound by a vCPU taken away); 409 while the
     * VM has checkpoints.
     */
    @PUT
    @Path("{id}/vcpus")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_RECONFIGURE)
    public VmView setVcpus(@PathParam("id") String id, VcpusChange change) {
        return vms.setVcpus(current.get(), id, change == null ? null : change.vcpus());
    }

    /** What a client sends to change a VM's memory. */
    public record MemoryChange(Integer memoryMib) {
    }

    /**
     * Gives the VM {@code memoryMib} of memory, up to its {@code maxMemoryMib}: running, it only grows, in steps of
     * 128 MiB (a DIMM the guest brings online); Off, it is set, and becomes one block again. 200 with the VM; 400
     * naming {@code memoryMib} beyond the maximum, below what a running VM has, or off the step; 409 while the VM has
     * checkpoints.
     */
    @PUT
    @Path("{id}/memory")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_RECONFIGURE)
    public VmView setMemory(@PathParam("id") String id, MemoryChange change) {
        return vms.setMemory(current.get(), id, change == null ? null : change.memoryMib());
    }

    /** What a client sends to put an ISO into a VM's CD-ROM drive: a library item's id. */
    public record MediumRequest(String library) {
    }

    /**
     * Puts a library ISO into the VM's CD-ROM drive, replacing what is in it, running or not (running: the guest
     * sees the medium change at once; Off: a VM without a drive gets one, and keeps it). 200 with the VM; 400
     * naming {@code library} for an item that is unknown, not an ISO or not one the caller may see; 409 for a
     * running VM without a drive.
     */
    @PUT
    @Path("{id}/cdrom")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_RECONFIGURE)
    public VmView insertMedium(@PathParam("id") String id, MediumRequest request) {
        return vms.insertMedium(current.get(), id, request == null ? null : request.library());
    }

    /** Ejects what is in the VM's CD-ROM drive, running or not; the drive stays, empty. 200 with the VM. */
    @DELETE
    @Path("{id}/cdrom")
    @Requires(Permission.VM_RECONFIGURE)
    public VmView ejectMedium(@PathParam("id") String id) {
        return vms.ejectMedium(current.get(), id);
    }

    /** What a client sends to grow a disk. */
    public record DiskChange(Long sizeMib) {
    }

    /** Grows disk {@code position} (numbered from 0) to {@code sizeMib}, running or not; disks only grow. */
    @PATCH
    @Path("{id}/disks/{position}")
    @Consumes({MediaType.APPLICATION_JSON, "application/merge-patch+json"})
    @Requires(Permission.VM_RECONFIGURE)
    public VmView resizeDisk(@PathParam("id") String id, @PathParam("position") String position, DiskChange change) {
        List<FieldError> violations = new ArrayList<>();
        int disk = QueryParameters.wholeNumber("position", position, 0, 0, 63, violations);
        QueryParameters.check(violations);
        return vms.resizeDisk(current.get(), id, disk, change == null ? null : change.sizeMib());
    }

    /**
     * Adds a disk, running or not (running: hot-added, the guest sees it at once): as an item of a new VM's
     * {@code disks} (blank, from the library, or an existing image). 200 with the VM; 202 with a job for a full
     * copy from the library.
     */
    @POST
    @Path("{id}/disks")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_RECONFIGURE)
    public Response addDisk(@PathParam("id") String id, VmRequest.DiskRequest request) {
        return switch (vms.addDisk(current.get(), id, requests.toNewDisk(request))) {
            case VmService.Done done -> Response.ok(done.vm()).build();
            case VmService.Started started -> accepted(started);
        };
    }

    /** Removes disk {@code position}, running or not; an image made for the VM goes with it. 200 with the VM. */
    @DELETE
    @Path("{id}/disks/{position}")
    @Requires(Permission.VM_RECONFIGURE)
    public VmView removeDisk(@PathParam("id") String id, @PathParam("position") String position) {
        List<FieldError> violations = new ArrayList<>();
        int disk = QueryParameters.wholeNumber("position", position, 0, 0, 63, violations);
        QueryParameters.check(violations);
        return vms.removeDisk(current.get(), id, disk);
    }

    /**
     * Adds a network adapter, running or not (running: hot-added, the guest sees it at once): {@code {"switch":
     * …, "vlan": …, "mac": …}}, each optional (no switch: the VM's isolated network; no MAC: a random one). 200 with the VM.
     */
    @POST
    @Path("{id}/nics")
    @Consumes(MediaType.APPLICATION_JSON)
    @Requires(Permission.VM_RECONFIGURE)
    public VmView addNic(@PathParam("id") String id, VmRequest.NicRequest request) {
        return vms.addNic(current.get(), id, requests.toNic(request));
    }

    /** Removes network adapter {@code position} (numbered from 0), running or not. 200 with the VM. */
    @DELETE
    @Path("{id}/nics/{position}")
    @Requires(Permission.VM_RECONFIGURE)
    public VmView removeNic(@PathParam("id") String id, @PathParam("position") String position) {
        List<FieldError> violations = new ArrayList<>();
        int nic = QueryParameters.wholeNumber("position", position, 0, 0, 63, violations);
        QueryParameters.check(violations);
        return vms.removeNic(current.get(), id, nic);
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
        return vms.extendLease(current.get(), id, request == null ? null : request.expiresAt());
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
        List<String> tail = vms.serial(current.get(), id, lines);
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
        return vms.metrics(current.get(), id, counters.range(from, to, step));
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
        byte[] png = vms.screen(current.get(), id, width, Duration.ofSeconds(maxAge));
        return Response.ok(png, "image/png").header("Cache-Control", "no-store").build();
    }

    /** 202: the operation runs as a job, shown in the body and followed at the Location. */
    private static Response accepted(VmService.Started started) {
        return Accepted.job(started.job());
    }
}
