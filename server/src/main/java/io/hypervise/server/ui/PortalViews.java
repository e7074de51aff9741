package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.counters.RecentSamples;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.vm.VmResource;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import java.util.List;

/** What the portal shows a self-service user: their own VMs with what they may do, and their quotas. */
@RequestScoped
class PortalViews {

    /** A portal lists a person's own VMs; policies keep that to a handful. */
    private static final String PAGE_SIZE = "100";

    @Inject
    VmResource vms;

    @Inject
    SelfServicePolicies policies;

    @Inject
    RecentSamples recent;

    @Inject
    VmPaneAssembler panes;

    List<PortalVm> mine(Caller caller) {
        EffectivePolicy policy = panes.governing(caller);
        return vms.list(caller.username(), null, null, "0", PAGE_SIZE).items().stream()
                .map(vm -> new PortalVm(vm, VmOffer.of(caller, vm, policy),
                        Utilization.of(recent.of(vm.id()), vm.vcpus()).orElse(null)))
                .toList();
    }

    Quota quota(Caller caller) {
        return Quota.of(policies.effective(caller), policies.usage(caller.username(), null));
    }
}
