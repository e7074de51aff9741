package io.hypervise.server.cluster;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.vm.VmOperation;
import java.util.List;

/**
 * What crosses the wire between the cluster's servers ({@code /api/v1/internal}): typed, so the operation is the
 * same {@link VmOperation} on both sides, never a string each side spells.
 */
public final class PeerApi {

    /** The path every server serves these under; only the hosts' service identity may call it. */
    public static final String ROOT = "/api/v1/internal";

    private PeerApi() {
    }

    /**
     * Carry out {@code operation} (a lifecycle one) on a VM the called server's host owns; who asked the asking
     * server ({@code requestedBy}) and its host ({@code fromHost}) are for the called server's log.
     */
    public record OperationRequest(VmOperation operation, String requestedBy, String fromHost) {
    }

    /** The VM's state on its owning host once the operation was carried out (or, for a job, begun there and ended). */
    public record OperationResult(String vm, VmState state) {
    }

    /** The last lines the guest wrote to its serial console. */
    public record SerialLines(List<String> lines) {
    }

    /**
     * Prepare to receive VM (live migration, target side): its definition is the cluster's record of it; the disks
     * in {@code localDiskBytes} (by position, their virtual size) get fresh images on the target. {@code fromHost}
     * must still own the VM. Paths under the source's storage root ({@code fromStorageRoot}: the library's kernels,
     * ISOs and read-only disks) are the same files under the target's own.
     */
    public record IncomingRequest(String fromHost, String fromStorageRoot, java.util.Map<Integer, Long> localDiskBytes,
            boolean paused) {
    }

    /** Where the source's worker sends the VM's memory ({@code host:ramPort}) and its disks (NBD exports by position). */
    public record Incoming(String vm, String host, int ramPort, int nbdPort, java.util.Map<Integer, String> exports) {
    }

    /** Resume the arrived VM (kept paused when it left paused); only once the database says the target owns it. */
    public record FinishRequest(boolean paused, String fromHost) {
    }
}
