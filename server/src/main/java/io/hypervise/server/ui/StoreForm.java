package io.hypervise.server.ui;

import io.hypervise.server.vm.VmView;
import java.util.Locale;

/**
 * The store-in-library dialog: the Off VM, and a template id made from its name for the person to keep
 * or change (the service checks it, and that no template has it yet).
 */
public record StoreForm(VmView vm, String template) {

    /** The longest template id the service takes. */
    private static final int ID_LENGTH = 40;

    static StoreForm of(VmView vm) {
        String id = vm.name().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-+", "");
        if (id.length() > ID_LENGTH) {
            id = id.substring(0, ID_LENGTH);
        }
        return new StoreForm(vm, id.replaceAll("-+$", ""));
    }
}
