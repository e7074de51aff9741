package io.hypervise.server.vm;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.hypervise.engine.vm.definition.Resources;
import java.util.List;

/**
 * What a client sends to create a VM: either {@code template} (and optionally a name and size), or a
 * full definition. Every field is checked, and every broken rule is reported by its field. {@code resources}
 * (resource controls, as {@code PUT /api/v1/vms/{id}/resources} takes them) only from administrators and operators.
 * {@code maxVcpus} and {@code maxMemoryMib}: room to grow while it runs (absent: none).
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
        List<NicRequest> nics,
        String firmware,
        Guest guest,
        Resources resources,
        Integer maxVcpus,
        Integer maxMemoryMib) {

    public VmRequest(String name, String template, Integer vcpus, Integer memoryMib, String profile, String display,
            Boot boot, List<DiskRequest> disks, List<NicRequest> nics, String firmware, Guest guest, Resources resources) {
        this(name, template, vcpus, memoryMib, profile, display, boot, disks, nics, firmware, guest, resources, null, null);
    }

    public VmRequest(String name, String template, Integer vcpus, Integer memoryMib, String profile, String display,
            Boot boot, List<DiskRequest> disks, List<NicRequest> nics) {
        this(name, template, vcpus, memoryMib, profile, display, boot, disks, nics, null, null);
    }

    public VmRequest(String name, String template, Integer vcpus, Integer memoryMib, String profile, String display,
            Boot boot, List<DiskRequest> disks, List<NicRequest> nics, String firmware, Guest guest) {
        this(name, template, vcpus, memoryMib, profile, display, boot, disks, nics, firmware, guest, null);
    }

    /**
     * What the guest applies at its first boot, from a NoCloud seed volume (cloud-init's format) added after
     * its disks: its host name, and a user (a login name, SSH public keys and/or a crypt(3) password hash
     * such as {@code openssl passwd -6} prints; the password itself never reaches the server).
     */
    public record Guest(String hostName, String user, List<String> sshAuthorizedKeys, String passwordHash) {
    }

    /**
     * kind: kernel, disk or iso; paths are taken relative to the storage root. An ISO from the library is
     * named by {@code library} (its id) instead of {@code image}.
     */
    public record Boot(String kind, String kernel, String initramfs, String commandLine, String image, String library) {

        public Boot(String kind, String kernel, String initramfs, String commandLine, String image) {
            this(kind, kernel, initramfs, commandLine, image, null);
        }
    }

    /**
     * One of: an existing image ({@code path}, relative to the storage root, with its format); a new blank
     * one of {@code sizeMib} (with its format) that the VM owns and that is deleted with it; or a disk made
     * from a library disk image ({@code library}, its id): a linked clone (a qcow2 overlay on the read-only
     * library image; {@code clone} "linked", the default) or a full copy ({@code clone} "full", in
     * {@code format}, qcow2 by default), optionally larger ({@code sizeMib}) than the image; or a whole block
     * device of the host ({@code device}, an absolute path such as /dev/sdb), passed through raw: administrators only.
     */
    public record DiskRequest(String path, String format, Boolean readOnly, Long sizeMib, String library,
            @JsonProperty("clone") String cloning, String device) {

        public DiskRequest(String path, String format, Boolean readOnly, Long sizeMib) {
            this(path, format, readOnly, sizeMib, null, null, null);
        }

        public DiskRequest(String path, String format, Boolean readOnly, Long sizeMib, String library, String cloning) {
            this(path, format, readOnly, sizeMib, library, cloning, null);
        }
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
