package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;
import java.util.Map;

/**
 * The admin console's actions pane for the selected VM: what it is, and what the caller may do to it
 * ({@code mayExtendLease}: an administrator, and the VM has a lease); {@code libraryNames} names the
 * library items its disks and CD-ROM came from, those the caller may see.
 */
public record VmPane(VmView vm, VmOffer offer, boolean mayCreate, boolean mayExtendLease, Map<String, String> libraryNames) {
}
