package io.hypervise.server.ui;

import io.hypervise.server.network.SwitchView;
import io.hypervise.server.vm.VmView;
import java.util.List;

/**
 * The settings dialog: the name can change in any state; processors, memory, device profile and
 * display only while the VM is Off, so only then are they offered; and then, to administrators, the
 * virtual switch of each network adapter ({@code switches} is empty for everyone else).
 */
public record SettingsForm(VmView vm, boolean hardware, List<SwitchView> switches) {
}
