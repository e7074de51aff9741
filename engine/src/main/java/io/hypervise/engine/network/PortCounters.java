package io.hypervise.engine.network;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Cumulative traffic of one switch port, as the VM's network adapter sees it: what the guest received
 * and what it transmitted. A port is a tap device, so the kernel counts it for free: the tap's transmit
 * is the guest's receive and the other way round.
 */
public record PortCounters(long receiveBytes, long transmitBytes, long receivePackets, long transmitPackets) {

    static final Path SYS_CLASS_NET = Path.of("/sys/class/net");

    /** The counters of the tap device {@code port}; empty when it does not exist (the VM is off). */
    public static Optional<PortCounters> of(String port) {
        Path stats = SYS_CLASS_NET.resolve(port).resolve("statistics");
        try {
            return Optional.of(new PortCounters(read(stats, "tx_bytes"), read(stats, "rx_bytes"),
                    read(stats, "tx_packets"), read(stats, "rx_packets")));
        } catch (IOException | NumberFormatException gone) {
            return Optional.empty();
        }
    }

    private static long read(Path stats, String counter) throws IOException {
        return Long.parseLong(Files.readString(stats.resolve(counter), StandardCharsets.US_ASCII).trim());
    }
}
