package io.hypervise.server.ui;

import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Caller;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.counters.RecentSamples;
import io.hypervise.server.vm.VmQuery;
import io.hypervise.server.vm.VmService;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;

/** The admin console's VM list, a page at a time, as the API lists VMs (same filters, same rules). */
@RequestScoped
class VmListAssembler {

    @Inject
    VmService vms;

    @Inject
    CurrentCaller current;

    @Inject
    RecentSamples recent;

    @Inject
    VmPaneAssembler panes;

    VmListPage list(String name, String state, String page, String host) {
        Caller caller = current.get();
        var found = vms.list(caller, VmQuery.parse(null, blankToNull(state), blankToNull(name), page, "25"));
        EffectivePolicy policy = panes.governing(caller);
        var rows = found.items().stream()
                .map(vm -> new VmListPage.Row(vm, VmOffer.of(caller, vm, policy),
                        Utilization.of(recent.of(vm.id()), vm.vcpus()).orElse(null)))
                .toList();
        return new VmListPage(rows, found.page(), found.size(), found.total(), name, state, host, System.currentTimeMillis() / 1000);
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
