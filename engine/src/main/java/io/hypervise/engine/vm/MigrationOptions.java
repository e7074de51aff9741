package io.hypervise.engine.vm;

import java.time.Duration;

/**
 * How a live migration is carried out.
 *
 * @param bandwidthBytesPerSecond at most this fast for the memory stream (QEMU's own default, 32 MiB/s, is meant for
 *                                networks shared with guests)
 * @param downtimeLimit           how long the guest may be stopped for the switch-over: QEMU copies memory the guest
 *                                dirties until what is left can go within it
 * @param timeout                 the whole migration, disks included, must be over within this; else it is cancelled
 */
public record MigrationOptions(long bandwidthBytesPerSecond, Duration downtimeLimit, Duration timeout) {

    public static MigrationOptions defaults() {
        return new MigrationOptions(1L << 30, Duration.ofMillis(300), Duration.ofMinutes(30));
    }
}
