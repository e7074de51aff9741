package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.library.Library;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.vm.VmService;
import io.hypervise.server.vm.VmView;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/** One VM as the caller may see and handle it: the actions pane and the VM's own page show this. */
@RequestScoped
class VmPaneAssembler {

    @Inject
    CurrentCaller current;

    @Inject
    VmService vms;

    @Inject
    VmAccess access;

    @Inject
    Library library;

    /** The VM (404 where the caller may not see it) with what they may do to it. */
    VmPane of(String id) {
        Caller caller = current.get();
        VmView vm = vms.get(caller, id);
        return new VmPane(vm, VmOffer.of(caller, vm, governing(caller)),
                caller.reach(Permission.VM_CREATE) != Reach.NONE,
                vm.lease() != null && caller.reach(Permission.POLICY_MANAGE) == Reach.ALL, libraryNames(caller, vm));
    }

    /** The names of the library items the VM's disks came from, those the caller may see (the others show their id). */
    private Map<String, String> libraryNames(Caller caller, VmView vm) {
        Map<String, String> names = new HashMap<>();
        vm.disks().stream().map(VmView.DiskView::libraryItem).filter(Objects::nonNull).distinct()
                .forEach(id -> library.visible(caller, id).ifPresent(item -> names.put(id, item.name)));
        return names;
    }

    /** The caller's effective policy where policies govern what they do, else null. */
    EffectivePolicy governing(Caller caller) {
        return access.policyOf(caller);
    }
}
