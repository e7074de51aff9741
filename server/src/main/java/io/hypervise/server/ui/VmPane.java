package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;

/**
 * The admin console's actions pane for the selected VM: what it is, and what the caller may do to it
 * ({@code mayExtendLease}: an administrator, and the VM has a lease).
 */
public record VmPane(VmView vm, VmOffer offer, boolean mayCreate, boolean mayExtendLease) {
}
