package io.hypervise.server.placement;

/**
 * What placement aims for among the hosts that can take a VM, as SCVMM's "load balancing" and
 * "resource maximization": spread VMs over the hosts, or fill hosts one after the other so that others
 * stay empty (to be switched off or kept for large VMs).
 */
public enum Goal {

    /** The host left with the most free (weighted) after placing rates best. */
    BALANCE("balance favours the host left with the most free"),
    /** The host left with the least free (weighted) after placing, that still fits, rates best. */
    CONSOLIDATE("consolidate favours the fullest host that still fits");

    private final String explanation;

    Goal(String explanation) {
        this.explanation = explanation;
    }

    /** One phrase for a rating's reasons: what this goal rewards. */
    public String explanation() {
        return explanation;
    }
}
