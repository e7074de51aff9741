package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.vm.VmView;
import java.util.ArrayList;
import java.util.List;

/**
 * What a caller may do to one VM now: the lifecycle actions its state allows and the caller's roles
 * and policies permit, the console (to use or only to watch), settings and delete. What is not
 * allowed is absent, not disabled; the API decides again when the action arrives.
 *
 * @param console "use", "watch" or null
 */
public record VmOffer(List<UiAction> actions, String console, boolean settings, boolean delete) {

    private static final List<UiAction> LIFECYCLE = List.of(
            new UiAction("start", "Start", null),
            new UiAction("shut-down", "Shut down", null),
            new UiAction("turn-off", "Turn off", "Turn off VM '%s'? Like pulling the plug: unsaved work in the guest is lost."),
            new UiAction("pause", "Pause", null),
            new UiAction("resume", "Resume", null),
            new UiAction("save", "Save", null),
            new UiAction("restart", "Reset", "Reset VM '%s'? Like pressing the reset button: unsaved work in the guest is lost."),
            new UiAction("discard-saved-state", "Discard saved state", "Discard the saved state of VM '%s'? It starts afresh next time."));

    /** @param policy the caller's effective policy where policies govern them, else null */
    public static VmOffer of(Caller caller, VmView vm, EffectivePolicy policy) {
        List<UiAction> actions = new ArrayList<>();
        if (caller.decide(Permission.VM_OPERATE, vm.owner()).allowed()) {
            for (UiAction a : LIFECYCLE) {
                if (vm.actions().contains(a.path()) && allows(policy, SelfServiceAction.governing(a.path()))) {
                    actions.add(a.confirm() == null ? a : new UiAction(a.path(), a.label(), a.confirm().formatted(vm.name())));
                }
            }
        }
        return new VmOffer(actions, console(caller, vm, policy),
                caller.decide(Permission.VM_RECONFIGURE, vm.owner()).allowed() && allows(policy, SelfServiceAction.RECONFIGURE),
                vm.actions().contains("delete") && caller.decide(Permission.VM_DELETE, vm.owner()).allowed()
                        && allows(policy, SelfServiceAction.DELETE));
    }

    /** The rule of ConsoleAuthorizer, for a VM that has a screen now. */
    private static String console(Caller caller, VmView vm, EffectivePolicy policy) {
        if (!hasScreen(vm)) {
            return null;
        }
        boolean use = caller.decide(Permission.VM_CONSOLE, vm.owner()).allowed() && allows(policy, SelfServiceAction.CONSOLE);
        if (use) {
            return "use";
        }
        boolean watch = (caller.decide(Permission.VM_CONSOLE, vm.owner()).allowed()
                || caller.decide(Permission.VM_CONSOLE_VIEW, vm.owner()).allowed())
                && (allows(policy, SelfServiceAction.CONSOLE_VIEW_ONLY) || allows(policy, SelfServiceAction.CONSOLE));
        return watch ? "watch" : null;
    }

    /** Whether the caller may see the VM's screen now (its thumbnail): whoever may at least watch its console. */
    public boolean screen() {
        return console != null;
    }

    /** Whether the VM's worker is there to show a screen. */
    private static boolean hasScreen(VmView vm) {
        return vm.state().equals(VmState.RUNNING.displayName()) || vm.state().equals(VmState.PAUSED.displayName());
    }

    private static boolean allows(EffectivePolicy policy, SelfServiceAction action) {
        return policy == null || policy.allows(action);
    }

    public boolean any() {
        return !actions.isEmpty() || console != null || settings || delete;
    }
}
