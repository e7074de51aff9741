package io.hypervise.engine.vm.worker;

import io.hypervise.engine.qmp.QmpClient;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.VmDefinition;

/**
 * A VM's live worker as others may observe it (the counters sample it): the process, confirmed by its
 * start time, and the engine's QMP connection to it. Commands sent on it do not take the VM's lock,
 * so observers must only query, and always with a timeout.
 */
public record RunningWorker(VmDefinition definition, VmState state, long pid, long startTicks, QmpClient qmp) {

    public String vmId() {
        return definition.id();
    }
}
