package io.hypervise.server.policy;

import io.hypervise.engine.vm.definition.Resources;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/** A policy as the API shows it; null settings are not configured. */
public record PolicyView(
        String id,
        String name,
        String description,
        int precedence,
        boolean enforced,
        List<String> assignedGroups,
        List<String> assignedUsers,
        List<String> hostGroups,
        List<String> templates,
        List<String> actions,
        Integer maxVms,
        Integer maxVcpus,
        Long maxMemoryMib,
        Long maxDiskMib,
        Integer maxVmVcpus,
        Long maxVmMemoryMib,
        Long maxVmDiskMib,
        Integer leaseDays,
        List<String> switches,
        List<String> libraryItems,
        Long maxLibraryMib,
        Resources vmResources,
        Instant createdAt,
        Instant updatedAt) {

    static PolicyView of(PolicyEntity p) {
        return new PolicyView(p.id, p.name, p.description, p.precedence, p.enforced, list(p.assignedGroups),
                list(p.assignedUsers), list(p.hostGroups), list(p.templates), list(p.actions), p.maxVms, p.maxVcpus,
                p.maxMemoryMib, p.maxDiskMib, p.maxVmVcpus, p.maxVmMemoryMib, p.maxVmDiskMib, p.leaseDays,
                list(p.switches), list(p.libraryItems), p.maxLibraryMib,
                p.vmResources == null ? null : p.vmResources.toResources(), p.createdAt, p.updatedAt);
    }

    private static List<String> list(String[] values) {
        return values == null ? null : Arrays.asList(values);
    }
}
