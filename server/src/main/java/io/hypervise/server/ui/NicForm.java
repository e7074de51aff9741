package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.network.SwitchView;
import io.hypervise.server.vm.VmView;
import java.util.List;

/**
 * The add-adapter dialog: on the VM's isolated network or a switch the caller may use (checked again when it is
 * added), a VLAN of it, a MAC of one's own. While the VM runs the adapter is hot-added, except on the legacy profile,
 * whose adapters change only while the VM is Off.
 */
public record NicForm(VmView vm, List<SwitchView> switches) {

    /** Whether the VM's worker runs, so the guest sees the adapter at once. */
    public boolean hot() {
        return !vm.state().equals(VmState.OFF.displayName());
    }

    public boolean legacy() {
        return vm.profile().equals("legacy");
    }
}
