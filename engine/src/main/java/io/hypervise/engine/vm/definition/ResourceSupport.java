package io.hypervise.engine.vm.definition;

import java.util.Optional;

/**
 * Which of a VM's {@link Resources} this host can enforce: each empty reason means it can; a reason says what
 * is missing. Disk limits and the balloon are QEMU's own and need nothing of the host.
 */
public record ResourceSupport(Optional<String> cpuUnavailable, Optional<String> memoryReservationUnavailable) {

    public static final ResourceSupport EVERYTHING = new ResourceSupport(Optional.empty(), Optional.empty());
}
