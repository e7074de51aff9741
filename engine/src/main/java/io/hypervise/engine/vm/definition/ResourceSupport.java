package io.hypervise.engine.vm.definition;

import java.util.Optional;

/**
 * Which of a VM's {@link Resources} this host can enforce: each empty reason means it can; a reason says what
 * is missing. Disk limits and the balloon are QEMU's own and need nothing of the host; network limits need its
 * traffic control on the switch ports.
 */
public record ResourceSupport(
        Optional<String> cpuUnavailable,
        Optional<String> memoryReservationUnavailable,
        Optional<String> networkReceiveUnavailable,
        Optional<String> networkTransmitUnavailable) {

    public static final ResourceSupport EVERYTHING = new ResourceSupport(Optional.empty(), Optional.empty());

    /** CPU and memory controls as given; network limits enforceable. */
    public ResourceSupport(Optional<String> cpuUnavailable, Optional<String> memoryReservationUnavailable) {
        this(cpuUnavailable, memoryReservationUnavailable, Optional.empty(), Optional.empty());
    }

    /** The same, with what the host's switch ports allow. */
    public ResourceSupport withNetwork(Optional<String> receiveUnavailable, Optional<String> transmitUnavailable) {
        return new ResourceSupport(cpuUnavailable, memoryReservationUnavailable, receiveUnavailable, transmitUnavailable);
    }
}
