package io.hypervise.server.ui;

import io.hypervise.server.vm.VmOperation;
import io.hypervise.server.vm.VmView;
import java.util.ArrayList;
import java.util.List;

/**
 * One of a VM's disks as its page lists it: its position in the API ({@code disks/{position}}, from 0), its number
 * for people (from 1), and what is offered on it. Only a writable image made for the VM grows (one it only uses is
 * someone else's file); {@code remove} is the question to confirm removing it with, null where it is not offered.
 */
public record DiskRow(int position, VmView.DiskView disk, boolean grow, String remove) {

    public int number() {
        return position + 1;
    }

    /** The size in whole MiB, for the grow dialog's field; 0 where it is not known. */
    public long sizeMib() {
        return disk.sizeBytes() == null ? 0 : disk.sizeBytes() >> 20;
    }

    /**
     * @param fixed whether the VM keeps the disks it has whatever the caller may (it has checkpoints): then none is
     *        offered for removal
     */
    static List<DiskRow> of(VmView vm, VmOffer.Disks offer, boolean fixed) {
        List<DiskRow> rows = new ArrayList<>();
        for (int i = 0; i < vm.disks().size(); i++) {
            VmView.DiskView d = vm.disks().get(i);
            rows.add(new DiskRow(i, d, offer.grow() && d.owned() && !d.readOnly(),
                    offer.remove() && !fixed ? "Disk " + (i + 1) + " (" + describe(d) + "): "
                            + VmOperation.REMOVE_DISK.confirmation(vm.name()) : null));
        }
        return rows;
    }

    /** "qcow2, 8.0 GiB": enough to tell the disk from the others in a question. */
    private static String describe(VmView.DiskView d) {
        return d.format() + (d.sizeBytes() == null ? "" : ", " + Formats.size(d.sizeBytes()));
    }
}
