package io.hypervise.server.policy;

import io.hypervise.engine.vm.definition.Resources;
import java.util.Set;

/**
 * The settings of one policy; each null is "not configured", which leaves the setting to other
 * policies. Sizes are in MiB; the largest single VM is {@code maxVm*}. {@code vmResources} are the resource
 * controls every VM its users create gets (CPU weight and cap, disk limits).
 */
public record PolicySettings(
        Set<String> hostGroups,
        Set<String> templates,
        Set<SelfServiceAction> actions,
        Integer maxVms,
        Integer maxVcpus,
        Long maxMemoryMib,
        Long maxDiskMib,
        Integer maxVmVcpus,
        Long maxVmMemoryMib,
        Long maxVmDiskMib,
        Integer leaseDays,
        Set<String> switches,
        Set<String> libraryItems,
        Long maxLibraryMib,
        Resources vmResources) {

    /** Settings that impose no resource controls. */
    public PolicySettings(Set<String> hostGroups, Set<String> templates, Set<SelfServiceAction> actions, Integer maxVms,
            Integer maxVcpus, Long maxMemoryMib, Long maxDiskMib, Integer maxVmVcpus, Long maxVmMemoryMib, Long maxVmDiskMib,
            Integer leaseDays, Set<String> switches, Set<String> libraryItems, Long maxLibraryMib) {
        this(hostGroups, templates, actions, maxVms, maxVcpus, maxMemoryMib, maxDiskMib, maxVmVcpus, maxVmMemoryMib,
                maxVmDiskMib, leaseDays, switches, libraryItems, maxLibraryMib, null);
    }

    /** Settings that configure nothing of the library. */
    public PolicySettings(Set<String> hostGroups, Set<String> templates, Set<SelfServiceAction> actions, Integer maxVms,
            Integer maxVcpus, Long maxMemoryMib, Long maxDiskMib, Integer maxVmVcpus, Long maxVmMemoryMib, Long maxVmDiskMib,
            Integer leaseDays, Set<String> switches) {
        this(hostGroups, templates, actions, maxVms, maxVcpus, maxMemoryMib, maxDiskMib, maxVmVcpus, maxVmMemoryMib,
                maxVmDiskMib, leaseDays, switches, null, null);
    }

    /** Settings that configure no switch. */
    public PolicySettings(Set<String> hostGroups, Set<String> templates, Set<SelfServiceAction> actions, Integer maxVms,
            Integer maxVcpus, Long maxMemoryMib, Long maxDiskMib, Integer maxVmVcpus, Long maxVmMemoryMib, Long maxVmDiskMib,
            Integer leaseDays) {
        this(hostGroups, templates, actions, maxVms, maxVcpus, maxMemoryMib, maxDiskMib, maxVmVcpus, maxVmMemoryMib,
                maxVmDiskMib, leaseDays, null);
    }

    public static PolicySettings none() {
        return new PolicySettings(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }
}
