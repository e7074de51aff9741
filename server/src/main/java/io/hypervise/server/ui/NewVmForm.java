package io.hypervise.server.ui;

import io.hypervise.server.library.LibraryItemView;
import io.hypervise.server.template.TemplateView;
import io.hypervise.server.network.SwitchView;
import java.util.List;

/**
 * The new-VM wizard: the templates the caller may use (for a self-service user, those their
 * policies allow), the library's disk images and ISO images they may see (their policies decide again
 * when the VM is created), whether a full definition from a disk image may be given instead, and the
 * virtual switches the VM's adapter may be plugged into (none unless the caller manages switches), and whether
 * the caller may rate every host for the VM ("Rate hosts", operators and administrators).
 */
public record NewVmForm(List<TemplateView> templates, boolean governed, boolean fromImage, List<SwitchView> switches,
        List<LibraryItemView> disks, List<LibraryItemView> isos, boolean rateHosts) {

    /** Whether the wizard offers a choice of where the VM starts from (a template, or the library). */
    public boolean choosesSource() {
        return !fromImage && !(disks.isEmpty() && isos.isEmpty());
    }
}
