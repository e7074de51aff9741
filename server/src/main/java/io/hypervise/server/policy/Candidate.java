package io.hypervise.server.policy;

/**
 * A VM a self-service user asks for, as policies see it: the template and host group it comes from,
 * and its size. {@code newVm} is false for a VM that exists and is being resized: it does not count
 * against the number of VMs again. {@code existingImages} counts disks that name an existing image
 * rather than a new blank one.
 */
public record Candidate(String template, String hostGroup, int vcpus, long memoryMib, long diskMib, int existingImages,
        boolean newVm) {
}
