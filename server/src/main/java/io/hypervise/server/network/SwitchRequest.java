package io.hypervise.server.network;

/**
 * A new virtual switch.
 *
 * @param id          1 to 11 lower-case letters, digits or dashes
 * @param name        what people call it; the id if absent
 * @param kind        private (VMs reach each other only) or internal (and the host)
 * @param hostAddress an internal switch's host address with its prefix, e.g. 10.77.0.1/24
 */
public record SwitchRequest(String id, String name, String kind, String hostAddress) {
}
