package io.hypervise.server.vm;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What a client sends to create a VM: either {@code template} (and optionally a name and size), or a
 * full definition. Every field is checked, and every broken rule is reported by its field.
 */
public record VmRequest(
        String name,
        String template,
        Integer vcpus,
        Integer memoryMib,
        String profile,
        String display,
        Boot boot,
        List<DiskRequest> disks,
        List<NicRequest> nics) {

    /** kind: kernel, disk or iso; paths are taken relative to the storage root. */
    public record Boot(String kind, String kernel, String initramfs, String commandLine, String image) {
    }

    /**
     * An existing image ({@code path}, relative to the storage root), or a new blank one of
     * {@code sizeMib} that the VM owns and that is deleted with it. The format is always required.
     */
    public record DiskRequest(String path, String format, Boolean readOnly, Long sizeMib) {
    }

    /**
     * A network adapter: its MAC (a random one if absent), the virtual switch it is plugged into (the
     * VM's isolated user-mode network if absent) and the switch's VLAN it is on (the default if absent).
     * Plugging into a switch needs the switch-managing role.
     */
    public record NicRequest(String mac, @JsonProperty("switch") String switchId, Integer vlan) {

        public NicRequest(String mac, String switchId) {
            this(mac, switchId, null);
        }
    }
}
