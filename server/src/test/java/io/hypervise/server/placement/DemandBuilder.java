package io.hypervise.server.placement;

import java.util.Set;

/** Test VMs as placement sees them: {@code vm(1, 1024).switches("lab").avoiding("a").build()}. */
final class DemandBuilder {

    private final int vcpus;
    private final long memoryMib;
    private long localDisk;
    private Set<String> shared = Set.of();
    private Set<String> switches = Set.of();
    private Set<String> groups = Set.of();
    private String avoid;
    private Set<String> mayRunOn = Set.of();

    private DemandBuilder(int vcpus, long memoryMib) {
        this.vcpus = vcpus;
        this.memoryMib = memoryMib;
    }

    static DemandBuilder vm(int vcpus, long memoryMib) {
        return new DemandBuilder(vcpus, memoryMib);
    }

    DemandBuilder localDiskGib(double gib) {
        localDisk = (long) (gib * HostBuilder.GIB);
        return this;
    }

    DemandBuilder onSharedStorage(String... ids) {
        shared = Set.of(ids);
        return this;
    }

    DemandBuilder switches(String... ids) {
        switches = Set.of(ids);
        return this;
    }

    DemandBuilder inGroups(String... names) {
        groups = Set.of(names);
        return this;
    }

    DemandBuilder avoiding(String hostId) {
        avoid = hostId;
        return this;
    }

    DemandBuilder mayRunOn(String... hostIds) {
        mayRunOn = Set.of(hostIds);
        return this;
    }

    VmDemand build() {
        return new VmDemand(vcpus, memoryMib, localDisk, shared, switches, groups, avoid, mayRunOn);
    }
}
