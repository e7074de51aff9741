package io.hypervise.engine.vm.definition;

/**
 * What the VM's CPU runs before the guest's boot loader: SeaBIOS, QEMU's default, or OVMF (EDK II's
 * UEFI for QEMU), whose variables (boot entries, settings) each VM keeps in a file of its own.
 * Both work with either device profile.
 */
public enum Firmware {
    BIOS,
    UEFI
}
