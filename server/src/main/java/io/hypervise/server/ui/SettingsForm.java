package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;

/**
 * The settings dialog: the name can change in any state; processors, memory, device profile and
 * display only while the VM is Off, so only then are they offered.
 */
public record SettingsForm(VmView vm, boolean hardware) {
}
