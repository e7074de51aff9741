package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.vm.VmView;

/**
 * The change-size dialog: vCPUs from 1 to the VM's maximum, memory up to its maximum. While the VM runs, vCPUs are
 * plugged in or out and memory only grows, in 128 MiB steps (the API refuses anything else, naming the field);
 * Off, both are set for its next start.
 */
public record SizeForm(VmView vm) {

    /** Whether the VM's worker runs, so the guest gets the change at once. */
    public boolean hot() {
        return !vm.state().equals(VmState.OFF.displayName());
    }

    /** The least memory the dialog offers: what a running VM has, else the least any VM may have. */
    public int memoryMin() {
        return hot() ? vm.memoryMib() : 32;
    }

    /** The memory field's step: 128 MiB while it runs, counted from what it has (the browser steps from min). */
    public int memoryStep() {
        return hot() ? VmDefinition.MEMORY_STEP_MIB : 1;
    }
}
