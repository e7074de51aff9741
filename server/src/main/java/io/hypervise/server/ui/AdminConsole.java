package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.Requires;
import io.hypervise.server.audit.AuditQuery;
import io.hypervise.server.audit.AuditReader;
import io.hypervise.server.host.BlockDeviceView;
import io.hypervise.server.host.Hosts;
import io.hypervise.server.inventory.HostEntity;
import io.hypervise.server.inventory.VmRepository;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.network.Switches;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.policy.Policies;
import io.hypervise.server.policy.QuotaUse;
import io.quarkus.qute.TemplateInstance;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The admin console's pages, laid out like Hyper-V's Virtualization Management Console: hosts on the
 * left, the selection's VMs in the middle, actions on the right; and the host, jobs and audit pages.
 */
@Path("/admin")
@Produces(MediaType.TEXT_HTML)
@Requires(Permission.HOST_READ)
public class AdminConsole {

    @Inject
    CurrentCaller current;

    @Inject
    VmListAssembler lists;

    @Inject
    VmPaneAssembler panes;

    @Inject
    Hosts hosts;

    @Inject
    io.hypervise.server.inventory.LocalHost localHost;

    @Inject
    Switches switches;

    @Inject
    Jobs jobs;

    @Inject
    VmRepository vms;

    @Inject
    AuditReader audit;

    @Inject
    Policies policies;

    @Inject
    QuotaUse quotaUse;

    @Inject
    LibraryViews library;

    @GET
    @Operation(hidden = true)
    @Transactional
    public TemplateInstance console(@QueryParam("name") String name, @QueryParam("state") String state,
            @QueryParam("page") String page, @QueryParam("host") String host, @QueryParam("vm") String vm) {
        Caller caller = current.get();
        return Pages.admin(Nav.of(caller, "/admin"), HostTree.load(host), lists.list(name, state, page, host), vm,
                caller.reach(Permission.VM_CREATE) != Reach.NONE);
    }

    /** One VM on a page of its own: its details, what the caller may do, and its utilization over time. */
    @GET
    @Path("vms/{id}")
    @Operation(hidden = true)
    public TemplateInstance vm(@PathParam("id") String id) {
        return Pages.vm(Nav.of(current.get(), "/admin"), panes.storage(id), "/admin?vm=" + id, "/admin/vms/" + id);
    }

    @GET
    @Path("hosts/{id}")
    @Operation(hidden = true)
    @Transactional
    public TemplateInstance host(@PathParam("id") String id) {
        HostEntity host = hosts.known(id);
        Caller caller = current.get();
        // Which devices the host has and what it uses is for those who may pass them through (administrators).
        List<BlockDeviceView> devices = caller.reach(Permission.HOST_DEVICES) == Reach.ALL ? hosts.blockDevices() : null;
        return Pages.host(Nav.of(caller, "/admin"), HostTree.load(id), hosts.detail(host), host.hostGroup,
                switchesOf(id), devices, new HostManagement(caller.reach(Permission.HOST_MANAGE) == Reach.ALL,
                        id.equals(localHost.id())));
    }

    /** What the host's page offers its viewer: maintenance mode (administrators), emptying it (on its own server). */
    public record HostManagement(boolean mayManage, boolean here) {
    }

    /** The host's switches as its page shows them; 404 for a host that is not this server's. */
    HostSwitches switches(String hostId) {
        hosts.known(hostId);
        return switchesOf(hostId);
    }

    /** This server runs one host, so its switches are the host's. */
    private HostSwitches switchesOf(String hostId) {
        var listing = switches.list();
        return new HostSwitches(hostId, listing.items(), listing.unavailable(),
                current.get().reach(Permission.SWITCH_MANAGE) == Reach.ALL);
    }

    @GET
    @Path("jobs")
    @Operation(hidden = true)
    @Requires(Permission.JOB_READ)
    public TemplateInstance jobs() {
        return Pages.jobs(Nav.of(current.get(), "/admin/jobs"), recentJobs());
    }

    @GET
    @Path("audit")
    @Operation(hidden = true)
    @Requires(Permission.AUDIT_READ)
    public TemplateInstance audit(@QueryParam("actor") String actor, @QueryParam("action") String action,
            @QueryParam("target") String target, @QueryParam("outcome") String outcome, @QueryParam("from") String from,
            @QueryParam("to") String to, @QueryParam("page") String page) {
        AuditQuery query = AuditQuery.parse(actor, action, target, outcome, from, to, page, null);
        AuditFilter filter = new AuditFilter(actor, action, target, outcome, from, to, query.page());
        return Pages.audit(Nav.of(current.get(), "/admin/audit"), filter, audit.find(query));
    }

    /** The library: its items, one item's details ({@code item}), and the upload form. */
    @GET
    @Path("library")
    @Operation(hidden = true)
    @Requires(Permission.LIBRARY_READ)
    public TemplateInstance library(@QueryParam("page") String page, @QueryParam("item") String item) {
        Caller caller = current.get();
        return Pages.library(Nav.of(caller, "/admin/library"), library.listing(caller, page, item));
    }

    @GET
    @Path("policies")
    @Operation(hidden = true)
    @Requires(Permission.POLICY_MANAGE)
    public TemplateInstance policies() {
        return Pages.policies(Nav.of(current.get(), "/admin/policies"), policies.list(), quotaUse.report());
    }

    /** The newest 25 jobs the caller may see, with their VMs' names. */
    JobList recentJobs() {
        List<JobView> recent = jobs.list(current.get(), Optional.empty(), Optional.empty(), 0, 25).items();
        List<String> ids = recent.stream().map(JobView::vmId).filter(Objects::nonNull).distinct().toList();
        return new JobList(recent, vms.namesOf(ids));
    }
}
