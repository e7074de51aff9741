package io.hypervise.server.cluster;

import io.hypervise.server.api.RequestRefusedException;

/** A host that cannot leave the cluster now: its lease is live, or it owns VMs. A 409 saying which. */
public class HostRemovalRefusedException extends RequestRefusedException {

    public HostRemovalRefusedException(String detail) {
        super(409, detail);
    }
}
