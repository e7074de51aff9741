package io.hypervise.server.ui;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.Requires;
import io.hypervise.server.checkpoint.CheckpointView;
import io.hypervise.server.checkpoint.Checkpoints;
import io.hypervise.server.audit.AuditReader;
import io.hypervise.server.counters.CounterSeriesView;
import io.hypervise.server.counters.CounterQueries;
import io.hypervise.server.host.BlockDeviceView;
import io.hypervise.server.host.Hosts;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.library.ItemKind;
import io.hypervise.server.api.QueryParameters;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.Policies;
import io.hypervise.server.policy.PolicyView;
import io.hypervise.server.network.SwitchAllowance;
import io.hypervise.server.network.SwitchRequest;
import io.hypervise.server.network.SwitchView;
import io.hypervise.server.network.Switches;
import io.hypervise.server.template.Templates;
import io.hypervise.server.template.TemplateView;
import io.hypervise.server.vm.VmArchives;
import io.hypervise.server.vm.VmRequest;
import io.hypervise.server.vm.VmOperation;
import io.hypervise.server.vm.VmRequests;
import io.hypervise.server.vm.VmService;
import io.hypervise.server.vm.VmSettingsRequest;
import io.hypervise.server.vm.VmView;
import io.quarkus.qute.TemplateInstance;
import io.smallrye.common.annotation.RunOnVirtualThread;
import jakarta.inject.Inject;
import jakarta.ws.rs.BeanParam;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.FormParam;
import jakarta.ws.rs.GET;
import io.hypervise.server.api.NotFoundRefusal;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.MultivaluedMap;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The pieces of pages that htmx fetches and swaps in, and the browser's changes. Each change goes
 * through the same services as the API's, so the same checks, policies and audit entries apply as for
 * a script; a refusal comes back as the API's problem document, which the page shows in words.
 */
@Path("/ui")
@Produces(MediaType.TEXT_HTML)
public class Fragments {

    /** How old a thumbnail in a page may be, in seconds: the pages refresh them every 10 s. */
    private static final int SCREEN_AGE = 5;

    /** JSON for a response header: header values must stay ASCII, so the rest is escaped. */
    private static final ObjectMapper HEADER_JSON = JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();

    @Inject
    CurrentCaller current;

    @Inject
    VmService vms;

    @Inject
    VmRequests requests;

    @Inject
    VmListAssembler lists;

    @Inject
    Templates templates;

    @Inject
    Hosts hosts;

    @Inject
    CounterQueries counters;

    @Inject
    AdminConsole console;

    @Inject
    PortalViews portal;

    @Inject
    VmPaneAssembler panes;

    @Inject
    AuditReader audit;

    @Inject
    Switches switches;

    @Inject
    LibraryViews library;

    @Inject
    Jobs jobs;

    @Inject
    VmArchives archives;

    @Inject
    Checkpoints checkpoints;

    @Inject
    Policies policies;

    @Inject
    io.hypervise.server.host.HostMaintenance maintenance;

    @Inject
    io.hypervise.server.vm.HostEvacuations evacuations;

    @GET
    @Path("vms/rows")
    @Operation(hidden = true)
    @Requires(Permission.VM_READ)
    public TemplateInstance rows(@QueryParam("name") String name, @QueryParam("state") String state,
            @QueryParam("page") String page, @QueryParam("host") String host) {
        return Pages.admin$rows(lists.list(name, state, page, host));
    }

    @GET
    @Path("vms/{id}/pane")
    @Operation(hidden = true)
    @Requires(Permission.VM_READ)
    public TemplateInstance pane(@PathParam("id") String id) {
        return Pages.pane(panes.of(id));
    }

    @GET
    @Path("vms/{id}/screen.png")
    @Produces("image/png")
    @Operation(hidden = true)
    @Requires(Permission.VM_CONSOLE_VIEW)
    @RunOnVirtualThread // as the API's: a display that does not answer must not hold a server thread
    public Response screen(@PathParam("id") String id, @QueryParam("width") String width) {
        List<FieldError> violations = new ArrayList<>();
        int pixels = QueryParameters.wholeNumber("width", width, 320, 16, 4096, violations);
        QueryParameters.check(violations);
        byte[] png = vms.screen(current.get(), id, pixels, Duration.ofSeconds(SCREEN_AGE));
        return Response.ok(png, "image/png").header("Cache-Control", "no-store").build();
    }

    @POST
    @Path("vms/{id}/do/{action}")
    @Operation(hidden = true)
    @Requires(Permission.VM_OPERATE)
    public Response act(@PathParam("id") String id, @PathParam("action") String action) {
        VmOperation operation = VmOperation.lifecycle(action)
                .orElseThrow(() -> new NotFoundRefusal("no action '" + action + "'"));
        Caller caller = current.get();
        return changed(switch (vms.act(caller, id, operation)) {
            case VmService.Done done -> "'" + done.vm().name() + "' is " + done.vm().state();
            case VmService.Started started -> operation.startedMessage(started.vmName());
        });
    }

    @GET
    @Path("vms/new")
    @Operation(hidden = true)
    @Requires(Permission.VM_CREATE)
    public TemplateInstance newVm(@QueryParam("source") String source) {
        Caller caller = current.get();
        EffectivePolicy policy = panes.governing(caller);
        List<TemplateView> usable = templates.list().stream()
                .filter(t -> policy == null || policy.templates().configured() && policy.templates().value().contains(t.id()))
                .toList();
        // Self-service users create from the templates their policies allow, never from an image path; from
        // the library, from what they may see (their policies decide again at creation).
        boolean fromImage = policy == null && "image".equals(source);
        return Pages.newVm(new NewVmForm(usable, policy != null, fromImage, switchChoices(),
                fromImage ? List.of() : library.choices(caller, ItemKind.DISK),
                fromImage ? List.of() : library.choices(caller, ItemKind.ISO),
                caller.reach(Permission.PLACEMENT_RATE) == Reach.ALL));
    }

    @POST
    @Path("vms/check")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_CREATE)
    public TemplateInstance check(@BeanParam NewVmFields form) {
        return Pages.check(CheckResult.of(vms.check(current.get(), requests.toNewVm(form.toRequest(), false)), form.name));
    }

    @POST
    @Path("vms")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_CREATE)
    public Response create(@BeanParam NewVmFields form) {
        Caller caller = current.get();
        VmService.Outcome outcome = vms.create(caller, requests.toNewVm(form.toRequest(), true));
        if (outcome instanceof VmService.Started started) {
            return changed("Creating '" + started.vmName() + "': its disk is being copied from the library (see Jobs)");
        }
        VmView vm = ((VmService.Done) outcome).vm();
        if (form.startOnceCreated()) {
            vms.act(caller, vm.id(), VmOperation.START);
            return changed("Created '" + vm.name() + "'; starting it");
        }
        return changed("Created '" + vm.name() + "'");
    }

    @GET
    @Path("vms/{id}/settings")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public TemplateInstance settings(@PathParam("id") String id) {
        VmView vm = vms.get(current.get(), id);
        return Pages.settings(new SettingsForm(vm, vm.state().equals("Off"), switchChoices()));
    }

    /** Sends the settings that differ from the VM's, so that a running VM's unchanged hardware is no change. */
    @POST
    @Path("vms/{id}/settings")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response reconfigure(@PathParam("id") String id, @FormParam("name") String name,
            @FormParam("vcpus") String vcpus, @FormParam("memoryMib") String memoryMib,
            @FormParam("profile") String profile, @FormParam("display") String display,
            @FormParam("network") List<String> network, @FormParam("vlan") List<String> vlan) {
        VmView vm = vms.get(current.get(), id);
        List<FieldError> v = new ArrayList<>();
        Integer cpus = NewVmFields.number("vcpus", vcpus, v);
        Integer memory = NewVmFields.number("memoryMib", memoryMib, v);
        List<Integer> vlans = new ArrayList<>();
        for (int i = 0; vlan != null && i < vlan.size(); i++) {
            vlans.add(NewVmFields.number("nics[" + i + "].vlan", vlan.get(i), v));
        }
        NewVmFields.throwIfAny(v);
        VmSettingsRequest change = new VmSettingsRequest(differs(name, vm.name()), differs(cpus, vm.vcpus()),
                differs(memory, vm.memoryMib()), differs(profile, vm.profile()), differs(display, vm.display()),
                adapters(network, vlans, vm.nics()));
        if (change.equals(new VmSettingsRequest(null, null, null, null, null))) {
            return changed("Nothing to change on '" + vm.name() + "'");
        }
        VmView after = vms.reconfigure(current.get(), id, requests.toSettings(change));
        return changed("Saved the settings of '" + after.name() + "'");
    }

    /** The date and time a person picks in the form, taken as UTC (the page says so). */
    @POST
    @Path("vms/{id}/lease")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.POLICY_MANAGE)
    public Response extendLease(@PathParam("id") String id, @FormParam("expiresAt") String expiresAt) {
        Instant until;
        try {
            until = LocalDateTime.parse(expiresAt == null ? "" : expiresAt.trim()).toInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException e) {
            throw new InvalidRequestException("lease", List.of(new FieldError("expiresAt",
                    "must be a date and time such as 2026-12-31T18:00; got '" + expiresAt + "'")));
        }
        VmView vm = vms.extendLease(current.get(), id, until);
        return changed("The lease of '" + vm.name() + "' now ends " + Formats.time(until));
    }

    @POST
    @Path("vms/{id}/delete")
    @Operation(hidden = true)
    @Requires(Permission.VM_DELETE)
    public Response delete(@PathParam("id") String id) {
        VmView vm = vms.get(current.get(), id);
        vms.delete(current.get(), id);
        return Response.noContent().header("HX-Trigger", header(Map.of("vm-deleted", "Deleted '" + vm.name() + "'"))).build();
    }

    /**
     * The Off VM as one archive, for the browser to download: the API's export, with the session. A plain
     * link, so the browser shows its own progress; a refusal is shown as a page ({@link PageProblems}).
     */
    @GET
    @Path("vms/{id}/export")
    @Produces("application/x-tar")
    @Operation(hidden = true)
    @Requires(Permission.VM_EXPORT)
    @RunOnVirtualThread // as the API's: the archive is written while it is sent
    public Response export(@PathParam("id") String id) {
        return archives.export(current.get(), id).response();
    }

    @GET
    @Path("vms/{id}/store")
    @Operation(hidden = true)
    @Requires(Permission.TEMPLATE_MANAGE)
    public TemplateInstance storeForm(@PathParam("id") String id) {
        return Pages.store(StoreForm.of(vms.get(current.get(), id)));
    }

    @POST
    @Path("vms/{id}/store")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.TEMPLATE_MANAGE)
    public Response store(@PathParam("id") String id, @FormParam("template") String template, @FormParam("name") String name,
            @FormParam("description") String description) {
        VmService.StoreRequest request = new VmService.StoreRequest(NewVmFields.blankToNull(template),
                NewVmFields.blankToNull(name), NewVmFields.blankToNull(description));
        VmService.Started started = vms.store(current.get(), id, request);
        return changed("'" + started.vmName() + "': being stored in the library as template '" + request.template()
                + "' (see Jobs)");
    }

    @GET
    @Path("vms/import")
    @Operation(hidden = true)
    @Requires(Permission.VM_CREATE)
    public TemplateInstance importForm() {
        return Pages.importVm();
    }

    /**
     * A new VM from an archive that the page's script sends as the request's body (its upload progress is
     * the script's to show): the API's import, with the session. JSON for the script, {@code vm} and
     * {@code notCarried}; a refusal is the API's problem document.
     */
    @POST
    @Path("vms/import")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(hidden = true)
    @Requires(Permission.VM_CREATE)
    @RunOnVirtualThread // as the API's: the body is read while it arrives
    public VmArchives.Imported importArchive(@QueryParam("name") String name, InputStream body) {
        return archives.importArchive(current.get(), body, NewVmFields.blankToNull(name));
    }

    /** The VM page's checkpoints, disks and jobs, asked for again when they may have changed. */
    @GET
    @Path("vms/{id}/storage")
    @Operation(hidden = true)
    @Requires(Permission.VM_READ)
    public TemplateInstance storage(@PathParam("id") String id) {
        return Pages.vm$storage(panes.storage(id));
    }

    @GET
    @Path("vms/{id}/checkpoints/new")
    @Operation(hidden = true)
    @Requires(Permission.VM_OPERATE)
    public TemplateInstance checkpointForm(@PathParam("id") String id) {
        return Pages.checkpoint(CheckpointForm.take(vms.get(current.get(), id), Instant.now()));
    }

    /** Takes a checkpoint, as a job: the page's jobs and its tree show how it goes. */
    @POST
    @Path("vms/{id}/checkpoints")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_OPERATE)
    public Response takeCheckpoint(@PathParam("id") String id, @FormParam("name") String name) {
        Caller caller = current.get();
        VmView vm = vms.get(caller, id);
        checkpoints.take(caller, id, name);
        return changed("'" + vm.name() + "': taking checkpoint '" + name.strip() + "' (see Jobs)");
    }

    @GET
    @Path("vms/{id}/checkpoints/{checkpoint}/rename")
    @Operation(hidden = true)
    @Requires(Permission.VM_OPERATE)
    public TemplateInstance renameForm(@PathParam("id") String id, @PathParam("checkpoint") String checkpoint) {
        Caller caller = current.get();
        return Pages.checkpoint(CheckpointForm.rename(vms.get(caller, id), checkpoint(caller, id, checkpoint)));
    }

    @POST
    @Path("vms/{id}/checkpoints/{checkpoint}/rename")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_OPERATE)
    public Response renameCheckpoint(@PathParam("id") String id, @PathParam("checkpoint") String checkpoint,
            @FormParam("name") String name) {
        Caller caller = current.get();
        String before = checkpoint(caller, id, checkpoint).name();
        CheckpointView after = checkpoints.rename(caller, id, checkpoint, name);
        return changed("Renamed checkpoint '" + before + "' to '" + after.name() + "'");
    }

    @POST
    @Path("vms/{id}/checkpoints/{checkpoint}/apply")
    @Operation(hidden = true)
    @Requires(Permission.VM_OPERATE)
    public Response applyCheckpoint(@PathParam("id") String id, @PathParam("checkpoint") String checkpoint) {
        Caller caller = current.get();
        VmView vm = vms.get(caller, id);
        String name = checkpoint(caller, id, checkpoint).name();
        checkpoints.apply(caller, id, checkpoint);
        return changed("'" + vm.name() + "': applying checkpoint '" + name + "' (see Jobs)");
    }

    @POST
    @Path("vms/{id}/checkpoints/{checkpoint}/delete")
    @Operation(hidden = true)
    @Requires(Permission.VM_OPERATE)
    public Response deleteCheckpoint(@PathParam("id") String id, @PathParam("checkpoint") String checkpoint) {
        Caller caller = current.get();
        VmView vm = vms.get(caller, id);
        String name = checkpoint(caller, id, checkpoint).name();
        checkpoints.delete(caller, id, checkpoint);
        return changed("'" + vm.name() + "': deleting checkpoint '" + name + "' (see Jobs)");
    }

    @GET
    @Path("vms/{id}/disks/new")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public TemplateInstance diskForm(@PathParam("id") String id) {
        Caller caller = current.get();
        VmView vm = vms.get(caller, id);
        List<BlockDeviceView> hostDisks = caller.reach(Permission.HOST_DEVICES) == Reach.ALL
                ? hosts.blockDevices().stream().filter(BlockDeviceView::usable).toList() : null;
        return Pages.disk(new DiskForm(vm, library.choices(caller, ItemKind.DISK), hostDisks));
    }

    /**
     * Adds a disk: blank ({@code sizeMib}, {@code format}), from the library ({@code library}, {@code clone}) or a host
     * device passed through ({@code device}), as the API's {@code POST /api/v1/vms/{id}/disks} takes it; a full copy
     * is a job. Who may pass a device through, and which device may be given, the service decides as for the API.
     */
    @POST
    @Path("vms/{id}/disks")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response addDisk(@PathParam("id") String id, @FormParam("source") String source, @FormParam("sizeMib") String sizeMib,
            @FormParam("format") String format, @FormParam("library") String item, @FormParam("clone") String clone,
            @FormParam("device") String device) {
        Caller caller = current.get();
        VmRequest.DiskRequest disk;
        if ("device".equals(source)) {
            if (NewVmFields.blankToNull(device) == null) {
                NewVmFields.throwIfAny(List.of(new FieldError("device", "is required: the host's block device to pass through")));
            }
            disk = new VmRequest.DiskRequest(null, null, false, null, null, null, device);
        } else if ("library".equals(source)) {
            disk = new VmRequest.DiskRequest(null, null, false, null, NewVmFields.blankToNull(item), NewVmFields.blankToNull(clone));
        } else {
            List<FieldError> v = new ArrayList<>();
            Integer mib = NewVmFields.number("sizeMib", sizeMib, v);
            if (mib == null && v.isEmpty()) {
                v.add(new FieldError("sizeMib", "is required: the new disk's size in MiB"));
            }
            NewVmFields.throwIfAny(v);
            disk = new VmRequest.DiskRequest(null, NewVmFields.blankToNull(format), false, mib.longValue());
        }
        return changed(switch (vms.addDisk(caller, id, requests.toNewDisk(disk))) {
            case VmService.Done done -> "Added a disk to '" + done.vm().name() + "'";
            case VmService.Started started -> "'" + started.vmName() + "': a disk is being copied from the library (see Jobs)";
        });
    }

    @GET
    @Path("vms/{id}/cdrom/insert")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public TemplateInstance cdromForm(@PathParam("id") String id) {
        Caller caller = current.get();
        return Pages.cdrom(new CdRomForm(vms.get(caller, id), library.choices(caller, ItemKind.ISO)));
    }

    /** Puts a library ISO into the VM's CD-ROM drive, as {@code PUT /api/v1/vms/{id}/cdrom} does. */
    @POST
    @Path("vms/{id}/cdrom")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response insertMedium(@PathParam("id") String id, @FormParam("library") String item) {
        VmView vm = vms.insertMedium(current.get(), id, NewVmFields.blankToNull(item));
        return changed("Inserted a CD into '" + vm.name() + "'");
    }

    @POST
    @Path("vms/{id}/cdrom/eject")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response ejectMedium(@PathParam("id") String id) {
        VmView vm = vms.ejectMedium(current.get(), id);
        return changed("Ejected the CD of '" + vm.name() + "'");
    }

    @GET
    @Path("vms/{id}/disks/{position}/grow")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public TemplateInstance growForm(@PathParam("id") String id, @PathParam("position") int position) {
        VmView vm = vms.get(current.get(), id);
        if (position < 0 || position >= vm.disks().size()) {
            throw new NotFoundRefusal("VM '" + vm.name() + "' has no disk " + position);
        }
        return Pages.grow(new GrowForm(vm, new DiskRow(position, vm.disks().get(position), true, null)));
    }

    @POST
    @Path("vms/{id}/disks/{position}/grow")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response growDisk(@PathParam("id") String id, @PathParam("position") int position, @FormParam("sizeMib") String sizeMib) {
        List<FieldError> v = new ArrayList<>();
        Integer mib = NewVmFields.number("sizeMib", sizeMib, v);
        NewVmFields.throwIfAny(v);
        VmView vm = vms.resizeDisk(current.get(), id, position, mib == null ? null : mib.longValue());
        return changed("Disk " + (position + 1) + " of '" + vm.name() + "' is now " + Formats.mib(mib));
    }

    @GET
    @Path("vms/{id}/resources")
    @Operation(hidden = true)
    @Requires(Permission.VM_RESOURCES)
    public TemplateInstance resourcesForm(@PathParam("id") String id) {
        return Pages.resources(new ResourcesForm(vms.get(current.get(), id), hosts.capabilities().resourceControl()));
    }

    /** Sets every control at once, as the API's PUT does; an empty field is a control removed. */
    @POST
    @Path("vms/{id}/resources")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_RESOURCES)
    public Response setResources(@PathParam("id") String id, @FormParam("cpuWeight") String cpuWeight,
            @FormParam("cpuCapPercent") String cpuCapPercent, @FormParam("memoryReservationMib") String reservation,
            @FormParam("balloonTargetMib") String balloon, @FormParam("diskMibPerSecond") String diskMib,
            @FormParam("diskIops") String diskIops, @FormParam("networkReceiveMbitPerSecond") String receiveMbit,
            @FormParam("networkTransmitMbitPerSecond") String transmitMbit) {
        List<FieldError> v = new ArrayList<>();
        Integer mibPerSecond = NewVmFields.number("diskMibPerSecond", diskMib, v);
        Resources wanted = new Resources(NewVmFields.number("cpuWeight", cpuWeight, v),
                NewVmFields.number("cpuCapPercent", cpuCapPercent, v), NewVmFields.number("memoryReservationMib", reservation, v),
                NewVmFields.number("balloonTargetMib", balloon, v), mibPerSecond == null ? null : (long) mibPerSecond << 20,
                NewVmFields.number("diskIops", diskIops, v), bitsPerSecond("networkReceiveMbitPerSecond", receiveMbit, v),
                bitsPerSecond("networkTransmitMbitPerSecond", transmitMbit, v));
        NewVmFields.throwIfAny(v);
        VmView vm = vms.changeResources(current.get(), id, wanted);
        return changed(wanted.isNone() ? "'" + vm.name() + "' has no resource controls now"
                : "Resource controls of '" + vm.name() + "' set");
    }

    /** A field in Mbit/s ("2", "0.5") as bits per second; null for an empty field. */
    private static Long bitsPerSecond(String field, String mbit, List<FieldError> v) {
        if (mbit == null || mbit.isBlank()) {
            return null;
        }
        try {
            return new java.math.BigDecimal(mbit.trim()).movePointRight(6).setScale(0, java.math.RoundingMode.HALF_UP)
                    .longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            v.add(new FieldError(field, "must be a number of Mbit/s, such as 2 or 0.5; got '" + mbit + "'"));
            return null;
        }
    }

    @GET
    @Path("policies/{id}/vm-resources")
    @Operation(hidden = true)
    @Requires(Permission.POLICY_MANAGE)
    public TemplateInstance policyResourcesForm(@PathParam("id") String id) {
        return Pages.policyResources(new PolicyResourcesForm(policies.get(id)));
    }

    /**
     * Sets the resource controls a policy gives every VM (each field of {@link PolicyResourcesForm#FIELDS}; empty is
     * none), its other settings kept: the same check and audit entry as the API's PUT.
     */
    @POST
    @Path("policies/{id}/vm-resources")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.POLICY_MANAGE)
    public Response setPolicyResources(@PathParam("id") String id, MultivaluedMap<String, String> form) {
        PolicyView policy = policies.get(id);
        List<FieldError> v = new ArrayList<>();
        Resources wanted = PolicyResourcesForm.parse(policy.vmResources(), form::getFirst, v);
        if (!v.isEmpty()) {
            throw new InvalidRequestException("policy", v);
        }
        policies.changeVmResources(id, wanted, current.get());
        return changed("policies-changed", wanted.isNone() ? "Policy '" + policy.name() + "' gives VMs no resource controls now"
                : "Resource controls of policy '" + policy.name() + "' set");
    }

    @GET
    @Path("vms/{id}/size")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public TemplateInstance sizeForm(@PathParam("id") String id) {
        return Pages.size(new SizeForm(vms.get(current.get(), id)));
    }

    /** Sets the VM's vCPUs and memory, as the API does: each that differs from what the VM has, vCPUs first. */
    @POST
    @Path("vms/{id}/size")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response setSize(@PathParam("id") String id, @FormParam("vcpus") String vcpus, @FormParam("memoryMib") String memoryMib) {
        List<FieldError> v = new ArrayList<>();
        Integer cpus = NewVmFields.number("vcpus", vcpus, v);
        Integer memory = NewVmFields.number("memoryMib", memoryMib, v);
        NewVmFields.throwIfAny(v);
        VmView vm = vms.get(current.get(), id);
        if (cpus != null && cpus != vm.vcpus()) {
            vm = vms.setVcpus(current.get(), id, cpus);
        }
        if (memory != null && memory != vm.memoryMib()) {
            vm = vms.setMemory(current.get(), id, memory);
        }
        return changed("'" + vm.name() + "' has " + vm.vcpus() + " vCPU" + (vm.vcpus() == 1 ? "" : "s") + " and "
                + vm.memoryMib() + " MiB of memory");
    }

    @GET
    @Path("vms/{id}/nics/new")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public TemplateInstance nicForm(@PathParam("id") String id) {
        return Pages.nic(new NicForm(vms.get(current.get(), id), switchChoices()));
    }

    /** Adds a network adapter ({@code network}: a switch, empty for the isolated network; {@code vlan}, {@code mac}), as the API does. */
    @POST
    @Path("vms/{id}/nics")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response addNic(@PathParam("id") String id, @FormParam("network") String network, @FormParam("vlan") String vlan,
            @FormParam("mac") String mac) {
        List<FieldError> v = new ArrayList<>();
        Integer vlanNumber = NewVmFields.number("vlan", vlan, v);
        NewVmFields.throwIfAny(v);
        VmView vm = vms.addNic(current.get(), id, requests.toNic(new VmRequest.NicRequest(NewVmFields.blankToNull(mac),
                NewVmFields.blankToNull(network), vlanNumber)));
        return changed("Added adapter " + vm.nics().size() + " (" + vm.nics().getLast().mac() + ") to '" + vm.name() + "'");
    }

    /** Removes a network adapter; while the VM runs the guest is asked to let go of it first. */
    @POST
    @Path("vms/{id}/nics/{position}/remove")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response removeNic(@PathParam("id") String id, @PathParam("position") int position) {
        VmView vm = vms.removeNic(current.get(), id, position);
        return changed("Removed adapter " + (position + 1) + " from '" + vm.name() + "'");
    }

    /** Removes a disk; while the VM runs the guest is asked to let go of it first, which may take a while. */
    @POST
    @Path("vms/{id}/disks/{position}/remove")
    @Operation(hidden = true)
    @Requires(Permission.VM_RECONFIGURE)
    public Response removeDisk(@PathParam("id") String id, @PathParam("position") int position) {
        VmView vm = vms.removeDisk(current.get(), id, position);
        return changed("Removed disk " + (position + 1) + " from '" + vm.name() + "'");
    }

    @GET
    @Path("vms/{id}/metrics")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(hidden = true)
    @Requires(Permission.VM_READ)
    public CounterSeriesView vmMetrics(@PathParam("id") String id, @QueryParam("from") String from,
            @QueryParam("to") String to, @QueryParam("step") String step) {
        return vms.metrics(current.get(), id, counters.range(from, to, step));
    }

    @GET
    @Path("hosts/{id}/metrics")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(hidden = true)
    @Requires(Permission.HOST_READ)
    public CounterSeriesView hostMetrics(@PathParam("id") String id, @QueryParam("from") String from,
            @QueryParam("to") String to, @QueryParam("step") String step) {
        return hosts.metrics(id, counters.range(from, to, step));
    }

    @GET
    @Path("hosts/{id}/switches")
    @Operation(hidden = true)
    @Requires(Permission.HOST_READ)
    public TemplateInstance hostSwitches(@PathParam("id") String id) {
        return Pages.host$switches(console.switches(id));
    }

    @POST
    @Path("switches")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    @Operation(hidden = true)
    @Requires(Permission.SWITCH_MANAGE)
    public Response createSwitch(@FormParam("id") String id, @FormParam("name") String name, @FormParam("kind") String kind,
            @FormParam("hostAddress") String hostAddress) {
        var made = switches.create(new SwitchRequest(NewVmFields.blankToNull(id), NewVmFields.blankToNull(name),
                NewVmFields.blankToNull(kind), NewVmFields.blankToNull(hostAddress)), current.get());
        return switchesChanged("Created virtual switch '" + made.name + "'");
    }

    @POST
    @Path("switches/{id}/delete")
    @Operation(hidden = true)
    @Requires(Permission.SWITCH_MANAGE)
    public Response deleteSwitch(@PathParam("id") String id) {
        var gone = switches.get(id);
        switches.delete(id, current.get());
        return switchesChanged("Deleted virtual switch '" + gone.name + "'");
    }

    /** Into maintenance mode ({@code on=true}) or out of it (administrators); the host's page then shows it. */
    @POST
    @Path("hosts/{id}/maintenance")
    @Operation(hidden = true)
    @Requires(Permission.HOST_MANAGE)
    public Response maintenance(@PathParam("id") String id, @FormParam("on") boolean on) {
        maintenance.set(id, on, current.get());
        return reload(on ? "Host '" + id + "' is in maintenance mode: it takes no new VMs"
                : "Host '" + id + "' is out of maintenance mode: it takes new VMs again");
    }

    /** Empties the host (administrators): maintenance mode, then its running VMs moved live elsewhere, as a job. */
    @POST
    @Path("hosts/{id}/evacuate")
    @Operation(hidden = true)
    @Requires(Permission.HOST_MANAGE)
    public Response evacuate(@PathParam("id") String id) {
        JobView job = evacuations.evacuate(current.get(), id);
        return reload("Emptying host '" + id + "': it is in maintenance mode and its running VMs move live to other"
                + " hosts (job " + job.id() + ", under Jobs)");
    }

    /** 204 raising {@code hv-reload}: the page reloads, then says what happened. */
    static Response reload(String message) {
        return Response.noContent().header("HX-Trigger", header(Map.of("hv-reload", message))).build();
    }

    @GET
    @Path("jobs")
    @Operation(hidden = true)
    @Requires(Permission.JOB_READ)
    public TemplateInstance jobs() {
        return Pages.jobs$list(console.recentJobs());
    }

    /** One job as JSON, for the library page to follow an upload's import (others' jobs are 404). */
    @GET
    @Path("jobs/{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(hidden = true)
    @Requires(Permission.JOB_READ)
    public JobView job(@PathParam("id") String id) {
        return jobs.view(current.get(), id);
    }

    @GET
    @Path("portal/vms")
    @Operation(hidden = true)
    @Requires(Permission.VM_CREATE)
    public TemplateInstance portalVms() {
        return Pages.portal$vms(portal.mine(current.get()));
    }

    @GET
    @Path("portal/quota")
    @Operation(hidden = true)
    @Requires(Permission.VM_CREATE)
    public TemplateInstance portalQuota() {
        return Pages.portal$quota(portal.quota(current.get()));
    }

    @GET
    @Path("audit/verify")
    @Operation(hidden = true)
    @Requires(Permission.AUDIT_READ)
    public TemplateInstance verifyAudit() {
        return Pages.verification(audit.verify());
    }

    /** One of the VM's checkpoints (404 where the VM has none of that id, as the service answers). */
    private CheckpointView checkpoint(Caller caller, String vmId, String checkpointId) {
        return checkpoints.list(caller, vmId).stream().filter(c -> c.id().equals(checkpointId)).findFirst()
                .orElseThrow(() -> new NotFoundRefusal("the VM has no checkpoint '" + checkpointId + "'"));
    }

    /**
     * The switches the caller may plug adapters into: all of them for administrators, those their policies
     * name for self-service users, none for others.
     */
    private List<SwitchView> switchChoices() {
        SwitchAllowance allowance = switches.allowanceOf(current.get());
        return switches.list().items().stream().filter(s -> allowance.allows(s.id())).toList();
    }

    /** The adapters' new switches and VLANs, one of each per adapter in order; null when none of them changes. */
    private static List<VmRequest.NicRequest> adapters(List<String> network, List<Integer> vlans, List<VmView.NicView> nics) {
        if (network == null || network.isEmpty()) {
            return null;
        }
        List<VmRequest.NicRequest> wanted = new ArrayList<>();
        boolean changed = network.size() != nics.size();
        for (int i = 0; i < network.size(); i++) {
            String switchId = NewVmFields.blankToNull(network.get(i));
            String mac = i < nics.size() ? nics.get(i).mac() : null;
            Integer vlan = switchId != null && i < vlans.size() ? vlans.get(i) : null;
            changed |= i < nics.size()
                    && !(Objects.equals(switchId, nics.get(i).switchId()) && Objects.equals(vlan, nics.get(i).vlan()));
            wanted.add(new VmRequest.NicRequest(mac, switchId, vlan));
        }
        return changed ? wanted : null;
    }

    private static <T> T differs(T wanted, T current) {
        return wanted == null || wanted.equals(current) || wanted instanceof String s && s.isBlank() ? null : wanted;
    }

    /** 204 with the events htmx raises on the page: the VM lists refresh, a message is shown, the dialog closes. */
    private static Response changed(String message) {
        return changed("vms-changed", message);
    }

    static Response switchesChanged(String message) {
        return changed("switches-changed", message);
    }

    /** 204 raising {@code refresh} (what shows the changed things reloads) and {@code hv-done} with the message. */
    static Response changed(String refresh, String message) {
        Map<String, Object> events = new LinkedHashMap<>();
        events.put(refresh, true);
        events.put("hv-done", message);
        return Response.noContent().header("HX-Trigger", header(events)).build();
    }

    static String header(Map<String, Object> events) {
        try {
            return HEADER_JSON.writeValueAsString(events);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
