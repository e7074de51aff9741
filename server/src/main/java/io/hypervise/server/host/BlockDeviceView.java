package io.hypervise.server.host;

/**
 * A whole block device of this host, as administrators choose one to pass through to a VM: what it is, whether
 * it may be given now, and if not, why (the engine's reason, or the VM that has it).
 *
 * @param path        the device's node, such as /dev/sdb
 * @param model       the model the kernel reports; null where sysfs has none (a loop device)
 * @param serial      the serial number the kernel reports; null where sysfs has none
 * @param backingFile the file under a loop device; null for other devices
 * @param usable      whether a VM may be given it now: the engine finds nothing against it and no VM has it
 * @param reason      why not; null when usable
 * @param vm          the VM it is given to; null when none has it
 */
public record BlockDeviceView(String path, long sizeBytes, String model, String serial, String backingFile, boolean usable,
        String reason, Holder vm) {

    /** The VM a device is given to. */
    public record Holder(String id, String name) {
    }
}
