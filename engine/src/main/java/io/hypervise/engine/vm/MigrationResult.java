package io.hypervise.engine.vm;

import java.nio.file.Path;
import java.util.List;

/**
 * A live migration that completed, as QEMU measured it on the source.
 *
 * @param downtimeMillis how long the guest was stopped for the switch-over (QEMU's {@code downtime})
 * @param totalMillis    from {@code migrate} to completion, RAM only (QEMU's {@code total-time})
 * @param elapsedMillis  the whole operation as the engine saw it: disks copied, memory sent, handed over
 * @param ramBytes       memory bytes sent (dirtied pages count again)
 * @param diskBytes      disk bytes copied to the target's fresh images (0 on shared storage)
 * @param paused         whether the guest was paused when it left (the target keeps it paused)
 * @param removed        the source's images deleted once the VM had moved (its own images, copied to the target)
 */
public record MigrationResult(long downtimeMillis, long totalMillis, long elapsedMillis, long ramBytes, long diskBytes,
        boolean paused, List<Path> removed) {

    public MigrationResult {
        removed = List.copyOf(removed);
    }

    MigrationResult withRemoved(List<Path> paths) {
        return new MigrationResult(downtimeMillis, totalMillis, elapsedMillis, ramBytes, diskBytes, paused, paths);
    }
}
