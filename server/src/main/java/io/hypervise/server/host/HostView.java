package io.hypervise.server.host;

import io.hypervise.engine.host.HostCapabilities;

/** The host's capabilities as the API shows them. */
public record HostView(
        String hostname,
        String accelerator,
        String acceleratorReason,
        boolean kvmDevicePresent,
        boolean hardwareVirtualization,
        int cpus,
        String cpuModel,
        long memoryBytes,
        String qemuBinary,
        String qemuVersion) {

    static HostView of(HostCapabilities caps) {
        return new HostView(caps.hostname(), caps.accelerator().qemuName(), caps.acceleratorReason(),
                caps.kvmDevicePresent(), caps.hardwareVirtualization(), caps.cpus(), caps.cpuModel(),
                caps.memoryBytes(), caps.qemuBinary().toString(), caps.qemuVersion());
    }
}
