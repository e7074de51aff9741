package io.hypervise.server.vm;

import java.util.List;

/**
 * What a client sends to change a VM's settings (PATCH): the fields to change, and only those. Disks
 * are chosen when the VM is created. {@code nics}, when given, is the whole new list of adapters (an
 * adapter whose MAC is left out keeps the one at its position); administrators only. {@code maxVcpus} and
 * {@code maxMemoryMib}: room to grow while it runs.
 */
public record VmSettingsRequest(String name, Integer vcpus, Integer memoryMib, String profile, String display,
        List<VmRequest.NicRequest> nics, Integer maxVcpus, Integer maxMemoryMib) {

    public VmSettingsRequest(String name, Integer vcpus, Integer memoryMib, String profile, String display,
            List<VmRequest.NicRequest> nics) {
        this(name, vcpus, memoryMib, profile, display, nics, null, null);
    }

    /** A change of the settings other than the adapters. */
    public VmSettingsRequest(String name, Integer vcpus, Integer memoryMib, String profile, String display) {
        this(name, vcpus, memoryMib, profile, display, null);
    }
}
