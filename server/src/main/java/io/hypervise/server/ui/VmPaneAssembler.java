package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.checkpoint.Checkpoints;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.library.Library;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.vm.VmService;
import io.hypervise.server.vm.VmView;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

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

    @Inject
    Checkpoints checkpoints;

    @Inject
    Jobs jobs;

    /** The VM's page lists this many of its newest jobs. */
    static final int JOBS = 5;

    /** The VM (404 where the caller may not see it) with what they may do to it. */
    VmPane of(String id) {
        Caller caller = current.get();
        VmView vm = vms.get(caller, id);
        VmOffer offer = VmOffer.of(caller, vm, governing(caller));
        return new VmPane(vm, offer, caller.reach(Permission.VM_CREATE) != Reach.NONE,
                vm.lease() != null && caller.reach(Permission.POLICY_MANAGE) == Reach.ALL, libraryNames(caller, vm),
                CheckpointTree.of(checkpoints.list(caller, id), vm, offer.checkpoints()));
    }

    /** The VM's checkpoints, disks and newest jobs, for its page (404 where the caller may not see it). */
    VmStorage storage(String id) {
        Caller caller = current.get();
        VmPane pane = of(id);
        List<JobView> recent = caller.reach(Permission.JOB_READ) == Reach.NONE ? List.of()
                : jobs.list(caller, Optional.of(id), Optional.empty(), 0, JOBS).items();
        return new VmStorage(pane, DiskRow.of(pane.vm(), pane.offer().disks(), !pane.checkpoints().isEmpty()), recent);
    }

    /**
     * The names of the library items the VM's disks came from and of the one in its CD-ROM drive, those the caller
     * may see (the others show their id).
     */
    private Map<String, String> libraryNames(Caller caller, VmView vm) {
        Map<String, String> names = new HashMap<>();
        java.util.stream.Stream.concat(vm.disks().stream().map(VmView.DiskView::libraryItem),
                        java.util.stream.Stream.of(vm.cdrom() == null ? null : vm.cdrom().library()))
                .filter(Objects::nonNull).distinct()
                .forEach(id -> library.visible(caller, id).ifPresent(item -> names.put(id, item.name)));
        return names;
    }

    /** The caller's effective policy where policies govern what they do, else null. */
    EffectivePolicy governing(Caller caller) {
        return access.policyOf(caller);
    }
}
