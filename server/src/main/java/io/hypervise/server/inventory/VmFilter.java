package io.hypervise.server.inventory;

import io.hypervise.engine.vm.VmState;
import java.util.Optional;

/** What a VM list is narrowed to. */
public record VmFilter(Optional<String> owner, Optional<VmState> state, Optional<String> nameContains) {
}
