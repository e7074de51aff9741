package io.hypervise.server.placement;

import java.util.OptionalDouble;
import java.util.Set;

/** Test hosts that read like the inventory: {@code host("a").memoryGib(8).committedMib(6144).build()}. */
final class HostBuilder {

    static final long MIB = 1024L * 1024;
    static final long GIB = 1024L * MIB;

    private String id;
    private final String name;
    private String group = "default";
    private boolean maintenance;
    private boolean leaseLive = true;
    private int cpus = 4;
    private OptionalDouble load = OptionalDouble.of(0);
    private int committedVcpus;
    private int vms;
    private long memory = 8 * GIB;
    private long committedMemory;
    private long storage = 100 * GIB;
    private long storageFree = 100 * GIB;
    private Set<String> switches = Set.of();
    private Set<String> shared = Set.of();

    private HostBuilder(String name) {
        this.id = name;
        this.name = name;
    }

    /** A live host of 4 idle cores, 8 GiB and 100 GiB of local storage, all free, in group default. */
    static HostBuilder host(String name) {
        return new HostBuilder(name);
    }

    HostBuilder id(String value) {
        id = value;
        return this;
    }

    HostBuilder group(String value) {
        group = value;
        return this;
    }

    HostBuilder inMaintenance() {
        maintenance = true;
        return this;
    }

    HostBuilder leaseExpired() {
        leaseLive = false;
        return this;
    }

    HostBuilder cpus(int value) {
        cpus = value;
        return this;
    }

    HostBuilder load(double cores) {
        load = OptionalDouble.of(cores);
        return this;
    }

    HostBuilder loadUnknown() {
        load = OptionalDouble.empty();
        return this;
    }

    HostBuilder committedVcpus(int value) {
        committedVcpus = value;
        return this;
    }

    HostBuilder vms(int value) {
        vms = value;
        return this;
    }

    HostBuilder memoryGib(long value) {
        memory = value * GIB;
        return this;
    }

    HostBuilder committedMib(long value) {
        committedMemory = value * MIB;
        return this;
    }

    HostBuilder committedBytes(long value) {
        committedMemory = value;
        return this;
    }

    HostBuilder storageGib(double total, double free) {
        storage = (long) (total * GIB);
        storageFree = (long) (free * GIB);
        return this;
    }

    HostBuilder switches(String... ids) {
        switches = Set.of(ids);
        return this;
    }

    HostBuilder reaches(String... storageIds) {
        shared = Set.of(storageIds);
        return this;
    }

    HostFacts build() {
        return new HostFacts(id, name, group, maintenance, leaseLive, cpus, load, committedVcpus, vms, memory,
                committedMemory, storage, storageFree, switches, shared);
    }
}
