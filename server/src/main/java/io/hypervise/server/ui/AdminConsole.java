package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.Requires;
import io.hypervise.server.audit.AuditQuery;
import io.hypervise.server.audit.AuditReader;
import io.hypervise.server.host.HostResource;
import io.hypervise.server.inventory.HostEntity;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.jobs.JobResource;
import io.hypervise.server.network.SwitchResource;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.policy.PolicyResource;
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
import java.util.Map;
import java.util.stream.Collectors;
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
    HostResource hosts;

    @Inject
    SwitchResource switchResource;

    @Inject
    JobResource jobs;

    @Inject
    AuditReader audit;

    @Inject
    PolicyResource policyResource;

    @Inject
    QuotaUse quotaUse;

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
        return Pages.vm(Nav.of(current.get(), "/admin"), panes.of(id), "/admin?vm=" + id, "/admin/vms/" + id);
    }

    @GET
    @Path("hosts/{id}")
    @Operation(hidden = true)
    @Transactional
    public TemplateInstance host(@PathParam("id") String id) {
        HostEntity host = hosts.known(id);
        return Pages.host(Nav.of(current.get(), "/admin"), HostTree.load(id), hosts.detail(host), host.hostGroup,
                switchesOf(id));
    }

    /** The host's switches as its page shows them; 404 for a host that is not this server's. */
    HostSwitches switches(String hostId) {
        hosts.known(hostId);
        return switchesOf(hostId);
    }

    /** This server runs one host, so its switches are the host's. */
    private HostSwitches switchesOf(String hostId) {
        var page = switchResource.list();
        return new HostSwitches(hostId, page.items(), page.unavailable(),
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

    @GET
    @Path("policies")
    @Operation(hidden = true)
    @Requires(Permission.POLICY_MANAGE)
    public TemplateInstance policies() {
        return Pages.policies(Nav.of(current.get(), "/admin/policies"), policyResource.list().items(), quotaUse.report());
    }

    /** The newest 25 jobs the caller may see, with their VMs' names. */
    @Transactional
    JobList recentJobs() {
        List<JobView> jobs = this.jobs.list(null, null, "0", "25").items();
        List<String> ids = jobs.stream().map(JobView::vmId).filter(java.util.Objects::nonNull).distinct().toList();
        Map<String, String> names = ids.isEmpty() ? Map.of() : VmEntity.<VmEntity>list("id in ?1", ids).stream()
                .collect(Collectors.toMap(vm -> vm.id, vm -> vm.name));
        return new JobList(jobs, names);
    }
}
