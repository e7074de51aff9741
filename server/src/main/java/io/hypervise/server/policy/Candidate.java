package io.hypervise.server.policy;

import java.util.Set;

/**
 * A VM a self-service user asks for, as policies see it: the template and host group it comes from,
 * whether it is made from library items ({@code fromLibrary}) and which of those need the policy's
 * consent ({@code libraryItems}: all but the user's own uploads), and its size. {@code newVm} is false
 * for a VM that exists and is being resized: it does not count against the number of VMs again.
 * {@code existingImages} counts disks that name an existing image (by path) rather than a new blank one
 * or a library item.
 */
public record Candidate(String template, boolean fromLibrary, Set<String> libraryItems, String hostGroup, int vcpus,
        long memoryMib, long diskMib, int existingImages, boolean newVm) {

    public Candidate {
        libraryItems = libraryItems == null ? Set.of() : Set.copyOf(libraryItems);
    }

    /** A candidate from a template (or from nothing), with no library item. */
    public Candidate(String template, String hostGroup, int vcpus, long memoryMib, long diskMib, int existingImages,
            boolean newVm) {
        this(template, false, Set.of(), hostGroup, vcpus, memoryMib, diskMib, existingImages, newVm);
    }
}
