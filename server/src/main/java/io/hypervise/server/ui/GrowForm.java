package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.vm.VmView;

/** The grow-disk dialog: the disk and its size now; disks only grow. */
public record GrowForm(VmView vm, DiskRow disk) {

    /** Whether the VM's worker runs, so the guest is told of the new size at once. */
    public boolean hot() {
        return !vm.state().equals(VmState.OFF.displayName());
    }

    /** The least the field takes: a MiB more than the disk has. */
    public long least() {
        return disk.sizeMib() + 1;
    }

    /** What the field offers first: twice the size. */
    public long suggested() {
        return Math.max(least(), disk.sizeMib() * 2);
    }
}
