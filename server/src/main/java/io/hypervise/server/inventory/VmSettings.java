package io.hypervise.server.inventory;

import io.hypervise.engine.vm.DeviceProfile;
import io.hypervise.engine.vm.Display;
import io.hypervise.engine.vm.VmDefinition;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/** The settings of a VM that can be changed after it is created; a null field is left as it is. */
public record VmSettings(String name, Integer vcpus, Integer memoryMib, DeviceProfile profile, Display display) {

    public VmDefinition applyTo(VmDefinition d) {
        return new VmDefinition(d.id(), name == null ? d.name() : name, vcpus == null ? d.vcpus() : vcpus,
                memoryMib == null ? d.memoryMib() : memoryMib, profile == null ? d.profile() : profile,
                d.disks(), d.nics(), d.boot(), display == null ? d.display() : display);
    }

    /** The fields that differ, each as {@code {"from": old, "to": new}}, in a stable order. */
    public Map<String, Object> changes(VmDefinition before, VmDefinition after) {
        Map<String, Object> changes = new LinkedHashMap<>();
        change(changes, "name", before.name(), after.name());
        change(changes, "vcpus", before.vcpus(), after.vcpus());
        change(changes, "memoryMib", before.memoryMib(), after.memoryMib());
        change(changes, "profile", lower(before.profile()), lower(after.profile()));
        change(changes, "display", lower(before.display()), lower(after.display()));
        return changes;
    }

    private static void change(Map<String, Object> changes, String field, Object from, Object to) {
        if (!Objects.equals(from, to)) {
            Map<String, Object> fromTo = new LinkedHashMap<>();
            fromTo.put("from", from);
            fromTo.put("to", to);
            changes.put(field, fromTo);
        }
    }

    private static String lower(Enum<?> value) {
        return value == null ? null : value.name().toLowerCase(Locale.ROOT);
    }
}
