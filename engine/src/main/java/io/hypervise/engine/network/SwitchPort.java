package io.hypervise.engine.network;

import java.util.Optional;

/**
 * One VM network adapter plugged into a switch.
 *
 * @param port     the tap device's name
 * @param vmId     the VM it belongs to, from the port's alias; empty for a port Hypervise did not make
 * @param nic      the adapter's position in the VM's definition
 * @param vlan     the VLAN it carries untagged; empty for the switch's default, VLAN 1
 * @param counters its traffic since the VM started
 */
public record SwitchPort(String port, Optional<String> vmId, int nic, Optional<Integer> vlan, Optional<PortCounters> counters) {
}
