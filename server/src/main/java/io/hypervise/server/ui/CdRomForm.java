package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.library.LibraryItemView;
import io.hypervise.server.vm.VmView;
import java.util.List;

/**
 * The insert-a-CD dialog: the library's ISO images the caller may see (their policies decide again when it is
 * inserted). While the VM runs the guest sees the disc change at once; an Off VM without a drive gets one.
 */
public record CdRomForm(VmView vm, List<LibraryItemView> library) {

    /** Whether the VM's worker runs, so the guest sees the change at once. */
    public boolean hot() {
        return !vm.state().equals(VmState.OFF.displayName());
    }

    /** Whether the VM gets a drive with the disc (it has none yet). */
    public boolean newDrive() {
        return vm.cdrom() == null;
    }
}
