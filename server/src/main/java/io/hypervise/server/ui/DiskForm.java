package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.host.BlockDeviceView;
import io.hypervise.server.library.LibraryItemView;
import io.hypervise.server.vm.VmView;
import java.util.List;

/**
 * The add-disk dialog: a blank disk, or one made from the library's disk images the caller may use (their
 * policies decide again when it is added), or, for those who may pass host devices through (administrators), a
 * whole block device of the host that no VM has and the host does not use. While the VM runs the disk is
 * hot-added, except on the legacy profile, whose IDE disks change only while the VM is Off.
 *
 * @param hostDisks the host's devices a VM may be given now; null where the caller may not pass devices through
 */
public record DiskForm(VmView vm, List<LibraryItemView> library, List<BlockDeviceView> hostDisks) {

    /** Whether the VM's worker runs, so the guest sees the disk at once. */
    public boolean hot() {
        return !vm.state().equals(VmState.OFF.displayName());
    }

    public boolean legacy() {
        return vm.profile().equals("legacy");
    }

    /** Whether the dialog offers a host disk at all: only to those who may pass one through. */
    public boolean passThrough() {
        return hostDisks != null;
    }

    /** Whether there is more than a blank disk to choose from. */
    public boolean choices() {
        return !library.isEmpty() || passThrough();
    }
}
