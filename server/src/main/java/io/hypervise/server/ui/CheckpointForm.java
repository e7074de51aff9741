package io.hypervise.server.ui;

import io.hypervise.engine.vm.VmState;
import io.hypervise.server.checkpoint.CheckpointView;
import io.hypervise.server.vm.VmView;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * The checkpoint dialog: a new checkpoint's name (a default made from the time, in UTC as the pages' times are)
 * or, with {@code checkpoint}, the one to rename.
 */
public record CheckpointForm(VmView vm, CheckpointView checkpoint, String name) {

    private static final DateTimeFormatter MINUTE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneOffset.UTC);

    static CheckpointForm take(VmView vm, Instant now) {
        return new CheckpointForm(vm, null, "Checkpoint " + MINUTE.format(now));
    }

    static CheckpointForm rename(VmView vm, CheckpointView checkpoint) {
        return new CheckpointForm(vm, checkpoint, checkpoint.name());
    }

    /** Whether a checkpoint taken now holds the VM's memory: it does while the VM runs or is paused. */
    public boolean memory() {
        return !vm.state().equals(VmState.OFF.displayName());
    }
}
