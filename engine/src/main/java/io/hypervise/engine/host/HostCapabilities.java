package io.hypervise.engine.host;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What this host can run: the accelerator the engine will use and why, its CPUs and memory, and the
 * QEMU that runs the workers.
 *
 * @param uefiFirmware OVMF's images, if installed; without them VMs can boot only with BIOS
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
        String qemuVersion,
        Optional<UefiFirmware> uefiFirmware) {

    public boolean uefiAvailable() {
        return uefiFirmware.isPresent();
    }
}
