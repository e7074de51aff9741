package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.server.host.HostView;
import io.hypervise.server.vm.VmView;

/**
 * The resource-controls dialog: the VM's controls now, and what this host cannot enforce (those fields are
 * shown disabled, with the host's reason). Disk throughput is asked in MiB/s and network bandwidth in Mbit/s
 * (decimals allowed: 0.5 is 500 kbit/s), as people think of them.
 */
public record ResourcesForm(VmView vm, HostView.ResourceControl host) {

    public Resources now() {
        return vm.resources();
    }

    /** Whether the VM's worker runs, so a change takes hold at once. */
    public boolean hot() {
        return !vm.state().equals(VmState.OFF.displayName()) && !vm.state().equals(VmState.SAVED.displayName());
    }

    public boolean enlightened() {
        return "enlightened".equals(vm.profile());
    }

    /** The receive limit in Mbit/s for the field ("2", "0.5"); null where there is none. */
    public String networkReceiveMbitPerSecond() {
        return mbit(vm.resources().networkReceiveBitsPerSecond());
    }

    /** The transmit limit in Mbit/s for the field; null where there is none. */
    public String networkTransmitMbitPerSecond() {
        return mbit(vm.resources().networkTransmitBitsPerSecond());
    }

    /** Whether some of its adapters are on the isolated network, which network limits do not reach. */
    public boolean isolatedAdapters() {
        return vm.nics().stream().anyMatch(n -> n.switchId() == null);
    }

    static String mbit(Long bitsPerSecond) {
        return bitsPerSecond == null ? null
                : new java.math.BigDecimal(bitsPerSecond).movePointLeft(6).stripTrailingZeros().toPlainString();
    }

    /** The disk limit in whole MiB/s for the field; null where there is none. */
    public Long diskMibPerSecond() {
        Long bytes = vm.resources().diskBytesPerSecond();
        return bytes == null ? null : Math.max(1, bytes >> 20);
    }
}
