package io.hypervise.engine.host;

import java.nio.file.Path;

/**
 * What this host can run: the accelerator the engine will use and why, its CPUs and memory, and the
 * QEMU that runs the workers.
 */
public record HostCapabilities(
        String hostname,
        Accelerator accelerator,
        String acceleratorReason,
        boolean kvmDevicePresent,
        boolean hardwareVirtualization,
        int cpus,
        String cpuModel,
        long memoryBytes,
        Path qemuBinary,
        String qemuVersion) {
}
