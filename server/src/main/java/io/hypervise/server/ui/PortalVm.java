package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;

/** One of a self-service user's VMs in the portal, with only what they may do to it and what it uses now. */
public record PortalVm(VmView vm, VmOffer offer, Utilization use) {
}
