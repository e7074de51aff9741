package io.hypervise.server.placement;

import java.util.Collections;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What a VM needs of the host it is placed on. The same for every use: creating a VM (no host to avoid),
 * starting one that is Off, migrating one ({@code avoidHost} is its current host) and restarting a highly
 * available VM elsewhere ({@code mayRunOn} its list of hosts, {@code avoidHost} the host that failed).
 *
 * @param vcpus          its vCPUs (never refuse a host: CPU is overcommittable; they count as busy in the headroom)
 * @param memoryMib      its memory (the most it may have, for a VM whose memory changes)
 * @param localDiskBytes what its disks need on the host's own storage; 0 when they all are on shared storage
 * @param sharedStorage  ids of the shared storage its disks (and CD-ROM images) are on: the host must reach each
 * @param switches       ids of the virtual switches its network adapters are plugged into
 * @param allowedGroups  the host groups it may run in (its policy's, or the administrator's choice); empty: any
 * @param avoidHost      a host it must not be placed on (a migration's source); null: none
 * @param mayRunOn       the only hosts it may run on (a highly available VM's list); empty: any
 */
public record VmDemand(int vcpus, long memoryMib, long localDiskBytes, Set<String> sharedStorage, Set<String> switches,
        Set<String> allowedGroups, String avoidHost, Set<String> mayRunOn) {

    public VmDemand {
        if (vcpus < 1) {
            throw new IllegalArgumentException("vcpus must be 1 or more; was " + vcpus);
        }
        if (memoryMib < 1) {
            throw new IllegalArgumentException("memoryMib must be 1 or more; was " + memoryMib);
        }
        if (localDiskBytes < 0) {
            throw new IllegalArgumentException("localDiskBytes must be 0 or more; was " + localDiskBytes);
        }
        // Sorted once here, so that reasons name them in the same order every time.
        sharedStorage = sorted(sharedStorage);
        switches = sorted(switches);
        allowedGroups = sorted(allowedGroups);
        mayRunOn = sorted(mayRunOn);
        avoidHost = avoidHost == null || avoidHost.isBlank() ? null : avoidHost;
    }

    /** A VM of this size with nothing else asked: no disks on the host, no switches, any host. */
    public static VmDemand of(int vcpus, long memoryMib) {
        return new VmDemand(vcpus, memoryMib, 0, Set.of(), Set.of(), Set.of(), null, Set.of());
    }

    public long memoryBytes() {
        return memoryMib * 1024 * 1024;
    }

    private static SortedSet<String> sorted(Set<String> values) {
        return values == null || values.isEmpty() ? Collections.emptySortedSet()
                : Collections.unmodifiableSortedSet(new TreeSet<>(values));
    }
}
