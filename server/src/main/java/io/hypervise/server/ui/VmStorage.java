package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.jobs.JobView;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The part of a VM's page that changes through jobs as well as through the VM's state: its checkpoints, its disks
 * and its latest jobs. The page asks for it again when VMs change, and every two seconds while something is under
 * way ({@link #busy}), since a job's end changes no VM's state.
 *
 * @param disks the VM's disks with what is offered on each
 * @param jobs the VM's newest jobs the caller may see, newest first
 */
public record VmStorage(VmPane pane, List<DiskRow> disks, List<JobView> jobs) {

    /** How long after a job's end the page still asks again. */
    private static final Duration SETTLING = Duration.ofSeconds(5);

    /** While a VM has checkpoints it keeps its set of disks: they know only the disks they were taken with. */
    public boolean disksFixed() {
        return !pane.checkpoints().isEmpty();
    }

    public boolean addDisk() {
        return pane.offer().disks().add() && !disksFixed();
    }

    /** While a VM has checkpoints it keeps its adapters too: a checkpoint with memory holds the devices it had. */
    public boolean addNic() {
        return pane.offer().nics().add() && !disksFixed();
    }

    /** The question to confirm removing adapter {@code position} with; null where removing is not offered. */
    public String removeNic(int position) {
        return pane.offer().nics().remove() && !disksFixed() ? "Adapter " + (position + 1) + " (" + pane.vm().nics().get(position).mac() + "): "
                + io.hypervise.server.vm.VmOperation.REMOVE_NIC.confirmation(pane.vm().name()) : null;
    }

    /** Whether the page says why disks are neither added nor removed: where the caller could otherwise. */
    public boolean explainFixed() {
        return disksFixed() && (pane.offer().disks().add() || pane.offer().disks().remove());
    }

    /**
     * Whether an ISO may be put into the VM's drive now: into the drive it has, or, while it is Off and has no
     * checkpoints (which know only the devices it had), into one it gets with it.
     */
    public boolean insertMedium() {
        return pane.offer().cdrom() && (pane.vm().cdrom() != null
                || pane.vm().state().equals(VmState.OFF.displayName()) && pane.checkpoints().isEmpty());
    }

    /** Whether the VM's drive holds something to eject now. */
    public boolean ejectMedium() {
        return pane.offer().cdrom() && pane.vm().cdrom() != null && !pane.vm().cdrom().empty();
    }

    /**
     * Whether something is under way: the VM held, a checkpoint being taken or deleted, a job of the VM not ended, or
     * one that ended moments ago. The last, because what a job changes is read in more than one step (the VM's row,
     * then its checkpoints) and a read that straddled the job's end may show half of it: one more look settles that.
     */
    public boolean busy() {
        Instant settled = Instant.now().minus(SETTLING);
        return pane.vm().pending() != null || pane.checkpoints().pending()
                || jobs.stream().anyMatch(j -> j.state().equals("queued") || j.state().equals("running")
                        || j.updatedAt() != null && j.updatedAt().isAfter(settled));
    }
}
