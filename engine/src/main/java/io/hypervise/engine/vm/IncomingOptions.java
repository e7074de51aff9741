package io.hypervise.engine.vm;

import java.util.Map;

/**
 * How this host receives a VM migrating live from another one ({@link Vms#receive}).
 *
 * @param listenAddress   the address the arriving worker listens on, for the VM's memory and (when disks are copied)
 *                        its NBD server: this host's own address in a cluster, 127.0.0.1 in tests
 * @param ramPort         the TCP port for the memory stream; 0 lets the engine pick a free one
 * @param nbdPort         the TCP port of the NBD server the source copies disks to; 0 lets the engine pick one
 * @param localDiskBytes  the disks (by position) that live in each host's own storage: each gets a fresh image here
 *                        of this virtual size, which the source fills while the guest runs. Disks not named are on
 *                        shared storage and used at the paths the definition gives.
 */
public record IncomingOptions(String listenAddress, int ramPort, int nbdPort, Map<Integer, Long> localDiskBytes) {

    public IncomingOptions {
        localDiskBytes = Map.copyOf(localDiskBytes);
    }

    /** Listening on {@code listenAddress} at ports the engine picks. */
    public static IncomingOptions on(String listenAddress, Map<Integer, Long> localDiskBytes) {
        return new IncomingOptions(listenAddress, 0, 0, localDiskBytes);
    }
}
