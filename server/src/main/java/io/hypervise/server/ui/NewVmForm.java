package io.hypervise.server.ui;

import io.hypervise.server.template.TemplateView;
import io.hypervise.server.network.SwitchView;
import java.util.List;

/**
 * The new-VM wizard: the templates the caller may use (for a self-service user, those their
 * policies allow), whether a full definition from a disk image may be given instead, and the virtual
 * switches the VM's adapter may be plugged into (none unless the caller manages switches).
 */
public record NewVmForm(List<TemplateView> templates, boolean governed, boolean fromImage, List<SwitchView> switches) {
}
