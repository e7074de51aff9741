package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.access.VmAccessRule;
import io.hypervise.server.access.VmDecision;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.vm.VmOperation;
import io.hypervise.server.vm.VmView;
import java.util.ArrayList;
import java.util.List;

/**
 * What a caller may do to one VM now: the lifecycle operations its state allows and {@link VmAccessRule}
 * permits, the console (to use or only to watch), settings, export and store in the library (both of an
 * Off VM that nothing else holds), delete, and its checkpoints and disks. What is not allowed is absent, not
 * disabled; the API decides again when the operation arrives.
 *
 * @param console "use", "watch" or null
 * @param export whether the VM may be downloaded as an archive now
 * @param store whether the VM may be stored in the library as a template now
 * @param delete the delete operation where it is offered, else null
 * @param cdrom whether a CD can be inserted into or ejected from the VM's drive now (see {@link VmStorage})
 * @param resources whether the VM's resource controls may be changed now
 * @param size whether the VM's vCPUs and memory may be changed now
 * @param rateHosts whether the caller may rate every host for the VM (where it could go)
 */
public record VmOffer(List<UiAction> actions, String console, boolean settings, boolean export, boolean store,
        UiAction delete, Checkpoints checkpoints, Disks disks, boolean cdrom, boolean resources, Nics nics, boolean size,
        boolean rateHosts) {

    /**
     * What may be done with the VM's checkpoints now: take one, and apply, rename or delete one (each checkpoint
     * that nothing is being done to; {@link CheckpointTree} decides per checkpoint).
     */
    public record Checkpoints(boolean take, boolean apply, boolean rename, boolean delete) {

        public boolean any() {
            return take || apply || rename || delete;
        }
    }

    /** What may be done with the VM's disks now: add one, grow or remove one ({@link DiskRow} decides per disk). */
    public record Disks(boolean add, boolean grow, boolean remove) {
    }

    /** What may be done with the VM's network adapters now: add one, remove one. */
    public record Nics(boolean add, boolean remove) {
    }

    /** @param policy the caller's effective policy where policies govern them, else null */
    public static VmOffer of(Caller caller, VmView vm, EffectivePolicy policy) {
        VmAccessRule.Subject subject = new VmAccessRule.Subject(vm.id(), vm.name(), vm.owner(),
                vm.lease() == null ? null : vm.lease().expiresAt(), vm.lease() == null ? null : vm.lease().stoppedAt());
        List<UiAction> actions = new ArrayList<>();
        for (VmOperation operation : VmOperation.lifecycle()) {
            if (vm.actions().contains(operation.path()) && VmAccessRule.decide(caller, subject, operation, policy).allowed()) {
                actions.add(action(operation, vm));
            }
        }
        boolean settled = vm.state().equals(VmState.OFF.displayName()) && vm.pending() == null;
        return new VmOffer(actions, hasScreen(vm) ? console(VmAccessRule.decide(caller, subject, VmOperation.CONSOLE, policy)) : null,
                VmAccessRule.decide(caller, subject, VmOperation.RECONFIGURE, policy).allowed(),
                settled && VmAccessRule.decide(caller, subject, VmOperation.EXPORT, policy).allowed(),
                settled && VmAccessRule.decide(caller, subject, VmOperation.STORE, policy).allowed(),
                vm.actions().contains("delete") && VmAccessRule.decide(caller, subject, VmOperation.DELETE, policy).allowed()
                        ? action(VmOperation.DELETE, vm) : null,
                new Checkpoints(now(caller, subject, vm, VmOperation.CHECKPOINT, policy),
                        now(caller, subject, vm, VmOperation.APPLY_CHECKPOINT, policy),
                        // A name is for people: it changes in any state, as the VM's own does.
                        VmAccessRule.decide(caller, subject, VmOperation.RENAME_CHECKPOINT, policy).allowed(),
                        now(caller, subject, vm, VmOperation.DELETE_CHECKPOINT, policy)),
                new Disks(now(caller, subject, vm, VmOperation.ADD_DISK, policy),
                        now(caller, subject, vm, VmOperation.RESIZE_DISK, policy),
                        now(caller, subject, vm, VmOperation.REMOVE_DISK, policy)),
                now(caller, subject, vm, VmOperation.INSERT_MEDIUM, policy),
                now(caller, subject, vm, VmOperation.SET_RESOURCES, policy),
                new Nics(now(caller, subject, vm, VmOperation.ADD_NIC, policy),
                        now(caller, subject, vm, VmOperation.REMOVE_NIC, policy)),
                now(caller, subject, vm, VmOperation.SET_VCPUS, policy),
                caller.reach(Permission.PLACEMENT_RATE) == Reach.ALL);
    }

    /** Whether the operation is allowed and the VM's state takes it now, nothing else holding the VM. */
    private static boolean now(Caller caller, VmAccessRule.Subject subject, VmView vm, VmOperation operation,
            EffectivePolicy policy) {
        String action = VmView.actionName(operation.engineAction());
        return vm.pending() == null && vm.actions().contains(action)
                && VmAccessRule.decide(caller, subject, operation, policy).allowed();
    }

    private static UiAction action(VmOperation operation, VmView vm) {
        return new UiAction(operation.path(), operation.label(), operation.confirmation(vm.name()));
    }

    private static String console(VmDecision decision) {
        if (!decision.allowed()) {
            return null;
        }
        return decision.watchOnly() ? "watch" : "use";
    }

    /** Whether the caller may see the VM's screen now (its thumbnail): whoever may at least watch its console. */
    public boolean screen() {
        return console != null;
    }

    /** Whether the VM's worker is there to show a screen. */
    private static boolean hasScreen(VmView vm) {
        return vm.state().equals(VmState.RUNNING.displayName()) || vm.state().equals(VmState.PAUSED.displayName());
    }

    public boolean any() {
        return !actions.isEmpty() || console != null || settings || export || store || delete != null || rateHosts;
    }
}
