package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.library.LibraryItemView;
import io.hypervise.server.vm.VmView;
import java.util.List;

/**
 * The add-disk dialog: a blank disk, or one made from the library's disk images the caller may use (their
 * policies decide again when it is added). While the VM runs the disk is hot-added, except on the legacy
 * profile, whose IDE disks change only while the VM is Off.
 */
public record DiskForm(VmView vm, List<LibraryItemView> library) {

    /** Whether the VM's worker runs, so the guest sees the disk at once. */
    public boolean hot() {
        return !vm.state().equals(VmState.OFF.displayName());
    }

    public boolean legacy() {
        return vm.profile().equals("legacy");
    }
}
