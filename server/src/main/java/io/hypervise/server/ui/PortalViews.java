package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.counters.RecentSamples;
import io.hypervise.server.inventory.VmFilter;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.vm.VmQuery;
import io.hypervise.server.vm.VmService;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Optional;

/** What the portal shows a self-service user: their own VMs with what they may do, and their quotas. */
@RequestScoped
class PortalViews {

    /** A portal lists a person's own VMs; policies keep that to a handful. */
    private static final int PAGE_SIZE = 100;

    @Inject
    VmService vms;

    @Inject
    SelfServicePolicies policies;

    @Inject
    RecentSamples recent;

    @Inject
    VmPaneAssembler panes;

    List<PortalVm> mine(Caller caller) {
        EffectivePolicy policy = panes.governing(caller);
        VmQuery own = new VmQuery(new VmFilter(Optional.of(caller.username()), Optional.empty(), Optional.empty()), 0, PAGE_SIZE);
        return vms.list(caller, own).items().stream()
                .map(vm -> new PortalVm(vm, VmOffer.of(caller, vm, policy),
                        Utilization.of(recent.of(vm.id()), vm.vcpus()).orElse(null)))
                .toList();
    }

    Quota quota(Caller caller) {
        return Quota.of(policies.effective(caller), policies.usage(caller.username(), null));
    }
}
