package io.hypervise.server.vm;

import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStateMachine;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.server.inventory.VmEntity;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** A VM as the API shows it, with the actions its state offers. */
public record VmView(
        String id,
        String name,
        String owner,
        String host,
        String state,
        String reason,
        Instant since,
        int vcpus,
        int memoryMib,
        String profile,
        Long workerPid,
        List<String> actions) {

    /** From the inventory's record, with the engine's live state where the engine has the VM. */
    static VmView of(VmEntity vm, Optional<VmStatus> live) {
        VmState state = live.map(VmStatus::state).orElse(vm.state);
        return new VmView(vm.id, vm.name, vm.owner, vm.hostId, state.displayName(),
                live.map(VmStatus::reason).orElse(vm.stateReason),
                live.map(VmStatus::since).orElse(vm.stateSince),
                vm.vcpus, vm.memoryMib, vm.profile.name().toLowerCase(Locale.ROOT),
                live.flatMap(s -> s.workerPid().isPresent() ? Optional.of(s.workerPid().getAsLong()) : Optional.empty()).orElse(null),
                VmStateMachine.actionsIn(state).stream().map(a -> a.name().toLowerCase(Locale.ROOT).replace('_', '-')).toList());
    }
}
