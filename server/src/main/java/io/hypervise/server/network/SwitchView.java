package io.hypervise.server.network;

import io.hypervise.engine.network.HostAddress;
import io.hypervise.engine.network.PortCounters;
import io.hypervise.engine.network.SwitchPort;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A virtual switch, the VMs whose adapters are on it, and the ports plugged in now (running VMs) with
 * their traffic since each VM started, as its guest sees it.
 *
 * @param network  the IPv4 network an internal switch carries, e.g. 10.77.0.0/24
 * @param adapters every VM adapter configured on the switch, running or not
 * @param present  whether the host has the switch now (false if it could not be made, e.g. after a
 *                 move to a host without CAP_NET_ADMIN)
 */
public record SwitchView(String id, String name, String kind, String hostAddress, String network, String hostId,
        Instant createdAt, boolean present, List<Adapter> adapters, List<Port> ports) {

    /** A VM adapter configured on the switch. */
    public record Adapter(String vm, String vmName, String nic, String mac, Integer vlan) {
    }

    /** A port plugged in now. */
    public record Port(String port, String vm, String vmName, String nic, Integer vlan, Long receiveBytes,
            Long transmitBytes, Long receivePackets, Long transmitPackets) {

        static Port of(SwitchPort p, Map<String, String> vmNames) {
            PortCounters c = p.counters().orElse(null);
            String vm = p.vmId().orElse(null);
            return new Port(p.port(), vm, vm == null ? null : vmNames.get(vm), p.nic() < 0 ? null : "net" + p.nic(),
                    p.vlan().orElse(null),
                    c == null ? null : c.receiveBytes(), c == null ? null : c.transmitBytes(),
                    c == null ? null : c.receivePackets(), c == null ? null : c.transmitPackets());
        }
    }

    static SwitchView of(SwitchEntity s, boolean present, List<Adapter> adapters, List<SwitchPort> ports) {
        Map<String, String> vmNames = adapters.stream().collect(Collectors.toMap(Adapter::vm, Adapter::vmName, (a, b) -> a));
        return new SwitchView(s.id, s.name, s.kind, s.hostAddress,
                s.hostAddress == null ? null : HostAddress.parse(s.hostAddress).network(), s.hostId, s.createdAt, present,
                adapters, ports.stream().map(p -> Port.of(p, vmNames)).toList());
    }
}
