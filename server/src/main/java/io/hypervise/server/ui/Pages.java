package io.hypervise.server.ui;

import io.hypervise.server.audit.AuditPage;
import io.hypervise.server.audit.AuditVerification;
import io.hypervise.server.host.BlockDeviceView;
import io.hypervise.server.host.HostDetail;
import io.hypervise.server.policy.PolicyView;
import io.hypervise.server.policy.QuotaUse;
import io.quarkus.qute.CheckedTemplate;
import io.quarkus.qute.TemplateInstance;
import java.util.List;

/**
 * The admin console's and the portal's templates (src/main/resources/templates/ui/), checked when the
 * server is built. A name with {@code $} is a fragment of a page, rendered alone for htmx to swap in.
 */
@CheckedTemplate(basePath = "ui")
final class Pages {

    private Pages() {
    }

    static native TemplateInstance home(Nav nav, String message);

    static native TemplateInstance error(Nav nav, String title, String message, String home);

    static native TemplateInstance admin(Nav nav, HostTree tree, VmListPage list, String selected, boolean mayCreate);

    static native TemplateInstance admin$rows(VmListPage list);

    static native TemplateInstance pane(VmPane pane);

    static native TemplateInstance vm(Nav nav, VmStorage storage, String back, String self);

    static native TemplateInstance vm$storage(VmStorage storage);

    static native TemplateInstance newVm(NewVmForm form);

    static native TemplateInstance check(CheckResult check);

    static native TemplateInstance settings(SettingsForm form);

    static native TemplateInstance store(StoreForm form);

    static native TemplateInstance importVm();

    static native TemplateInstance checkpoint(CheckpointForm form);

    static native TemplateInstance disk(DiskForm form);

    static native TemplateInstance cdrom(CdRomForm form);

    static native TemplateInstance grow(GrowForm form);

    static native TemplateInstance resources(ResourcesForm form);
    static native TemplateInstance nic(NicForm form);

    static native TemplateInstance size(SizeForm form);

    static native TemplateInstance host(Nav nav, HostTree tree, HostDetail host, String group, HostSwitches switches,
            List<BlockDeviceView> blockDevices, AdminConsole.HostManagement manage);

    static native TemplateInstance host$switches(HostSwitches switches);

    static native TemplateInstance jobs(Nav nav, JobList list);

    static native TemplateInstance jobs$list(JobList list);

    static native TemplateInstance audit(Nav nav, AuditFilter filter, AuditPage page);

    static native TemplateInstance verification(AuditVerification verification);

    static native TemplateInstance library(Nav nav, LibraryListing listing);

    static native TemplateInstance library$rows(LibraryListing listing);

    static native TemplateInstance libraryItem(LibraryDetail detail);

    static native TemplateInstance policies(Nav nav, List<PolicyView> policies, QuotaUse.Report use);

    static native TemplateInstance policyResources(PolicyResourcesForm form);

    static native TemplateInstance portal(Nav nav, Quota quota, List<PortalVm> vms);

    static native TemplateInstance portal$vms(List<PortalVm> vms);

    static native TemplateInstance portal$quota(Quota quota);
}
