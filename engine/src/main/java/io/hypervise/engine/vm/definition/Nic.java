package io.hypervise.engine.vm.definition;

import io.hypervise.engine.network.VirtualSwitches;
import java.security.SecureRandom;

/**
 * A network adapter.
 *
 * @param mac      its unicast MAC address
 * @param switchId the virtual switch it is plugged into (see {@code network.VirtualSwitches}), or null for
 *                 an isolated user-mode network: the guest sees a link and a DHCP server, but reaches
 *                 neither the host nor other VMs, and its traffic is not counted
 * @param vlan     on a switch, the VLAN (1 to 4094) its port carries untagged, so the guest reaches only
 *                 ports of the same VLAN; null for the switch's default, VLAN 1, where the host is
 * @param node     the name QEMU knows it by ({@code net<k>}: its netdev; its device is {@code dev-net<k>}, its
 *                 switch port the VM's port {@code k}), given when it was added to a running VM and kept, so
 *                 that removing another adapter renames nothing the worker holds; null for {@code net<position>}
 */
public record Nic(String mac, String switchId, Integer vlan, String node) {

    public static final int MAX_VLAN = VirtualSwitches.MAX_VLAN;

    private static final SecureRandom RANDOM = new SecureRandom();

    /** An adapter on the isolated user-mode network. */
    public Nic(String mac) {
        this(mac, null, null, null);
    }

    /** An adapter on a switch's VLAN (or the isolated network, for a null switch), named by its position. */
    public Nic(String mac, String switchId, Integer vlan) {
        this(mac, switchId, vlan, null);
    }

    /** An adapter on a switch's default VLAN (or the isolated network, for a null switch). */
    public Nic(String mac, String switchId) {
        this(mac, switchId, null, null);
    }

    /** The name QEMU knows the adapter by: its netdev's id. */
    public String nodeName(int position) {
        return node != null ? node : "net" + position;
    }

    /** The number in its name: its switch port is the VM's port of that number (see {@code VirtualSwitches.portName}). */
    public int slot(int position) {
        return node != null ? Integer.parseInt(node.substring(3)) : position;
    }

    /** The same adapter, known by {@code node}. */
    public Nic withNode(String node) {
        return new Nic(mac, switchId, vlan, node);
    }

    /** The device id of the adapter known by {@code node}: how it is removed while the VM runs. */
    public static String device(String node) {
        return "dev-" + node;
    }

    public boolean onSwitch() {
        return switchId != null;
    }

    /** A random locally unique MAC in QEMU's 52:54:00 range. */
    public static String randomMac() {
        byte[] b = new byte[3];
        RANDOM.nextBytes(b);
        return String.format("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
    }

    /** How audit entries and logs name the adapter: its MAC and where it is plugged in. */
    public String describe() {
        return mac + (onSwitch() ? " on switch " + switchId + (vlan == null ? "" : " VLAN " + vlan) : " on its isolated network");
    }
}
