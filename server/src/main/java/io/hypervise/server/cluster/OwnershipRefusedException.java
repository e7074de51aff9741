package io.hypervise.server.cluster;

import io.hypervise.server.api.RequestRefusedException;
import java.util.Map;

/**
 * A change of a VM's owning host that was refused because something it was decided on no longer holds; nothing
 * changed. A 409 whose {@code reason} names what did not hold.
 */
public class OwnershipRefusedException extends RequestRefusedException {

    /** What did not hold. */
    public enum Reason {
        /** There is no such VM. */
        NO_SUCH_VM,
        /** The VM is not on the host the transfer expected (another transfer won, or the caller's view is old). */
        VM_ELSEWHERE,
        /** The VM is on the target host already. */
        SAME_HOST,
        /** There is no such target host. */
        NO_SUCH_TARGET,
        /** The target host left the cluster. */
        TARGET_LEFT,
        /** The target host's lease is not live by the database's clock. */
        TARGET_EXPIRED,
        /** The target host's epoch is not the one the transfer was decided on (it joined again since). */
        TARGET_EPOCH_STALE,
        /** The source host's epoch is not the one the transfer was decided on (it joined again, or was declared gone). */
        SOURCE_EPOCH_STALE,
        /** A live migration's target gave the VM's arrival up before it was handed over ({@link VmArrivals}). */
        NO_ARRIVAL
    }

    private final Reason reason;

    public OwnershipRefusedException(Reason reason, String detail) {
        super(409, detail);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    @Override
    public Map<String, ?> extensions() {
        return Map.of("reason", reason.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
    }
}
