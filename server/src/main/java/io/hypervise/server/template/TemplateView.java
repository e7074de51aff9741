package io.hypervise.server.template;

import java.util.Locale;

/**
 * A template as the API shows it: what a VM created from it gets unless the request says otherwise.
 * {@code ready} is false while its files are still to be built (the first VM from it then waits).
 */
public record TemplateView(String id, String name, String description, int vcpus, int memoryMib, String profile,
        String display, String firmware, String boot, java.util.List<String> disks, String owner, boolean ready) {

    static TemplateView of(TemplateEntity t, boolean ready) {
        return new TemplateView(t.id, t.name, t.description, t.vcpus, t.memoryMib,
                t.profile.name().toLowerCase(Locale.ROOT), t.display.name().toLowerCase(Locale.ROOT),
                t.firmware.name().toLowerCase(Locale.ROOT), t.boot.kind.toLowerCase(Locale.ROOT),
                t.disks.stream().map(d -> d.libraryItemId).toList(), t.owner, ready);
    }
}
