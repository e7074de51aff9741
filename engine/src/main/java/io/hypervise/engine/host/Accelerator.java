package io.hypervise.engine.host;

/** How guest code is executed: by the CPU's hardware virtualization, or translated in software. */
public enum Accelerator {
    KVM("kvm"),
    TCG("tcg");

    private final String qemuName;

    Accelerator(String qemuName) {
        this.qemuName = qemuName;
    }

    /** The name QEMU's {@code -accel} option takes. */
    public String qemuName() {
        return qemuName;
    }
}
