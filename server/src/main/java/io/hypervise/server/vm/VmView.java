package io.hypervise.server.vm;

import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.engine.vm.VmStatus;
import java.time.Instant;
import java.util.List;

/** A VM as the API shows it, with the actions its state offers. */
public record VmView(
        String id,
        String name,
        String state,
        String reason,
        Instant since,
        int vcpus,
        int memoryMib,
        String profile,
        Long workerPid,
        List<String> actions) {

    static VmView of(VmStatus status) {
        var def = status.definition();
        return new VmView(def.id(), def.name(), status.state().displayName(), status.reason(), status.since(),
                def.vcpus(), def.memoryMib(), def.profile().name().toLowerCase(),
                status.workerPid().isPresent() ? status.workerPid().getAsLong() : null,
                VmStateMachine.actionsIn(status.state()).stream().map(a -> a.name().toLowerCase().replace('_', '-')).toList());
    }
}
