package io.hypervise.engine.network;

import java.util.Optional;

/**
 * One virtual switch on this host. It is a Linux bridge named {@code hvs-<id>} whose alias records its
 * kind, so the kernel itself holds the switch: VMs keep their network while the server restarts, and an
 * engine opened later finds the switch as it was.
 *
 * @param id          1 to 11 lower-case letters, digits or dashes (a network interface name has 15 bytes)
 * @param hostAddress the host's own IPv4 address and prefix on an internal switch, e.g. 10.77.0.1/24
 */
public record VirtualSwitch(String id, SwitchKind kind, Optional<HostAddress> hostAddress) {

    public VirtualSwitch {
        if (kind == SwitchKind.PRIVATE && hostAddress.isPresent()) {
            throw new NetworkException(NetworkException.Reason.INVALID,
                    "a private switch connects VMs only; the host has no address on it");
        }
    }

    /** The bridge's interface name. */
    public String bridge() {
        return VirtualSwitches.bridgeName(id);
    }
}
