package io.hypervise.server.ui;

import io.hypervise.server.template.TemplateView;
import java.util.List;

/**
 * The new-VM wizard: the templates the caller may use (for a self-service user, those their
 * policies allow), and whether a full definition from a disk image may be given instead.
 */
public record NewVmForm(List<TemplateView> templates, boolean governed, boolean fromImage) {
}
