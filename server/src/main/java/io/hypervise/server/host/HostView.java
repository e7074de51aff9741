package io.hypervise.server.host;

import io.hypervise.engine.host.HostCapabilities;
import io.hypervise.engine.vm.Vms;
import io.hypervise.engine.vm.definition.ResourceSupport;
import io.hypervise.engine.vm.worker.WorkerJail;
import java.util.List;
import java.util.Locale;

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
        ResourceControl resourceControl,
        Confinement confinement) {

    /**
     * How this host's VM workers are confined: the mode the administrator chose, whether they are, the pieces
     * in force, what the host lacks (when it lacks something, a required mode runs no VMs here), and the range
     * of users VMs get.
     */
    public record Confinement(String mode, boolean confined, List<String> inForce, List<String> unavailable,
            int firstUid, int lastUid) {

        static Confinement of(WorkerJail.Status s) {
            return new Confinement(s.mode().name().toLowerCase(Locale.ROOT).replace('_', '-'), s.confined(), s.inForce(),
                    s.unavailable(), s.firstUid(), s.lastUid());
        }
    }

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
                        support.networkTransmitUnavailable().orElse(null)),
                Confinement.of(vms.confinement()));
    }
}
