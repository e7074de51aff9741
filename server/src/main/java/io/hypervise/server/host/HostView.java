package io.hypervise.server.host;

import io.hypervise.engine.host.HostCapabilities;
import io.hypervise.engine.vm.Vms;
import io.hypervise.engine.vm.definition.ResourceSupport;

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
        String qemuVersion,
        ResourceControl resourceControl) {

    /**
     * Which VM resource controls this host enforces: CPU weight and cap through the workers' cgroups (the
     * version, or why not), memory reservations (cgroup v2's memory controller, or why not), limits on what VMs
     * receive and send through their switch ports (the kernel's traffic control, or why not); disk limits and
     * the balloon are QEMU's and always there.
     */
    public record ResourceControl(String cgroup, String cpuUnavailable, String memoryReservationUnavailable,
            String networkReceiveUnavailable, String networkTransmitUnavailable) {
    }

    static HostView of(HostCapabilities caps, Vms vms) {
        ResourceSupport support = vms.resourceSupport();
        return new HostView(caps.hostname(), caps.accelerator().qemuName(), caps.acceleratorReason(),
                caps.kvmDevicePresent(), caps.hardwareVirtualization(), caps.cpus(), caps.cpuModel(),
                caps.memoryBytes(), caps.qemuBinary().toString(), caps.qemuVersion(),
                new ResourceControl(vms.cgroupVersion().orElse(null), support.cpuUnavailable().orElse(null),
                        support.memoryReservationUnavailable().orElse(null), support.networkReceiveUnavailable().orElse(null),
                        support.networkTransmitUnavailable().orElse(null)));
    }
}
