package io.hypervise.server.inventory;

import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The settings of a VM that can be changed after it is created; a null field is left as it is.
 *
 * @param nics the whole new list of network adapters; an adapter without a MAC keeps the MAC of the
 *             adapter at its position, or gets a new one
 */
public record VmSettings(String name, Integer vcpus, Integer memoryMib, DeviceProfile profile, Display display,
        List<Nic> nics, Integer maxVcpus, Integer maxMemoryMib) {

    public VmSettings(String name, Integer vcpus, Integer memoryMib, DeviceProfile profile, Display display, List<Nic> nics) {
        this(name, vcpus, memoryMib, profile, display, nics, null, null);
    }

    /**
     * The definition with these settings. A VM's memory given anew (its maximum too) becomes one block again: the
     * DIMMs added while it ran are no longer on its worker's command line. The CD-ROM drive stays as it is (a
     * definition's ISO boot would otherwise stand for it).
     */
    public VmDefinition applyTo(VmDefinition d) {
        int memory = memoryMib == null ? d.memoryMib() : memoryMib;
        boolean sameMemory = memory == d.memoryMib() && maxMemoryMib == null;
        return new VmDefinition(d.id(), name == null ? d.name() : name, vcpus == null ? d.vcpus() : vcpus,
                memory, profile == null ? d.profile() : profile,
                d.disks(), nics == null ? d.nics() : adapters(d.nics()), d.boot(), display == null ? d.display() : display,
                d.firmware(), d.resources(), d.cdrom(), maxVcpus == null ? d.maxVcpus() : maxVcpus,
                maxMemoryMib == null ? d.maxMemoryMib() : maxMemoryMib, sameMemory ? d.memoryDimmsMib() : List.of());
    }

    private List<Nic> adapters(List<Nic> before) {
        List<Nic> after = new ArrayList<>();
        for (int i = 0; i < nics.size(); i++) {
            Nic n = nics.get(i);
            String mac = n.mac() != null ? n.mac() : i < before.size() ? before.get(i).mac() : Nic.randomMac();
            after.add(new Nic(mac, n.switchId(), n.vlan()));
        }
        return after;
    }

    /** The fields that differ, each as {@code {"from": old, "to": new}}, in a stable order. */
    public Map<String, Object> changes(VmDefinition before, VmDefinition after) {
        Map<String, Object> changes = new LinkedHashMap<>();
        change(changes, "name", before.name(), after.name());
        change(changes, "vcpus", before.vcpus(), after.vcpus());
        change(changes, "memoryMib", before.memoryMib(), after.memoryMib());
        change(changes, "maxVcpus", before.maxVcpus(), after.maxVcpus());
        change(changes, "maxMemoryMib", before.maxMemoryMib(), after.maxMemoryMib());
        change(changes, "profile", lower(before.profile()), lower(after.profile()));
        change(changes, "display", lower(before.display()), lower(after.display()));
        change(changes, "nics", before.nics().stream().map(Nic::describe).toList(), after.nics().stream().map(Nic::describe).toList());
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
