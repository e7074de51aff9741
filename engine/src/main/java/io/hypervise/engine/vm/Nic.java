package io.hypervise.engine.vm;

/**
 * A network adapter. Until virtual switches exist the NIC is attached to an isolated user-mode
 * network: the guest sees a link and a DHCP server, but reaches neither the host nor the outside.
 */
public record Nic(String mac) {
}
