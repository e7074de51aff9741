package io.hypervise.server.policy;

import io.hypervise.engine.vm.definition.Resources;
import java.util.List;

/**
 * A policy as an administrator writes it (POST creates, PUT replaces). A setting left out or null is
 * "not configured"; an empty list configures "none".
 */
public record PolicyRequest(
        String id,
        String name,
        String description,
        Integer precedence,
        Boolean enforced,
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
        Resources vmResources) {

    /** A policy that imposes no resource controls. */
    public PolicyRequest(String id, String name, String description, Integer precedence, Boolean enforced,
            List<String> assignedGroups, List<String> assignedUsers, List<String> hostGroups, List<String> templates,
            List<String> actions, Integer maxVms, Integer maxVcpus, Long maxMemoryMib, Long maxDiskMib, Integer maxVmVcpus,
            Long maxVmMemoryMib, Long maxVmDiskMib, Integer leaseDays, List<String> switches, List<String> libraryItems,
            Long maxLibraryMib) {
        this(id, name, description, precedence, enforced, assignedGroups, assignedUsers, hostGroups, templates, actions,
                maxVms, maxVcpus, maxMemoryMib, maxDiskMib, maxVmVcpus, maxVmMemoryMib, maxVmDiskMib, leaseDays, switches,
                libraryItems, maxLibraryMib, null);
    }

    /** A policy that configures nothing of the library. */
    public PolicyRequest(String id, String name, String description, Integer precedence, Boolean enforced,
            List<String> assignedGroups, List<String> assignedUsers, List<String> hostGroups, List<String> templates,
            List<String> actions, Integer maxVms, Integer maxVcpus, Long maxMemoryMib, Long maxDiskMib, Integer maxVmVcpus,
            Long maxVmMemoryMib, Long maxVmDiskMib, Integer leaseDays, List<String> switches) {
        this(id, name, description, precedence, enforced, assignedGroups, assignedUsers, hostGroups, templates, actions,
                maxVms, maxVcpus, maxMemoryMib, maxDiskMib, maxVmVcpus, maxVmMemoryMib, maxVmDiskMib, leaseDays, switches,
                null, null);
    }
}
