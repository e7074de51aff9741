package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;

/** One of a self-service user's VMs in the portal, with only what they may do to it. */
public record PortalVm(VmView vm, VmOffer offer) {

    public boolean screen() {
        return offer.console() != null;
    }
}
