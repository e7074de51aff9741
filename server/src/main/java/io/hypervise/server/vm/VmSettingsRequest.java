package io.hypervise.server.vm;

/**
 * What a client sends to change a VM's settings (PATCH): the fields to change, and only those. Disks
 * and network adapters are not settings here; they are chosen when the VM is created.
 */
public record VmSettingsRequest(String name, Integer vcpus, Integer memoryMib, String profile, String display) {
}
