package io.hypervise.engine.vm;

/**
 * A network adapter.
 *
 * @param mac      its unicast MAC address
 * @param switchId the virtual switch it is plugged into (see {@code network.VirtualSwitches}), or null for
 *                 an isolated user-mode network: the guest sees a link and a DHCP server, but reaches
 *                 neither the host nor other VMs, and its traffic is not counted
 */
public record Nic(String mac, String switchId) {

    /** An adapter on the isolated user-mode network. */
    public Nic(String mac) {
        this(mac, null);
    }

    public boolean onSwitch() {
        return switchId != null;
    }
}
