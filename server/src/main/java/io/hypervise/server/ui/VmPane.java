package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;
import java.util.Map;

/**
 * The admin console's actions pane for the selected VM, and the head of its own page: what it is, and what the
 * caller may do to it ({@code mayExtendLease}: an administrator, and the VM has a lease); {@code libraryNames}
 * names the library items its disks and CD-ROM came from, those the caller may see; {@code checkpoints} is its
 * tree of checkpoints with what is offered on each.
 */
public record VmPane(VmView vm, VmOffer offer, boolean mayCreate, boolean mayExtendLease, Map<String, String> libraryNames,
        CheckpointTree checkpoints) {
}
