package io.hypervise.engine.vm;

import static io.hypervise.engine.vm.VmState.MIGRATING;
import static io.hypervise.engine.vm.VmState.OFF;
import static io.hypervise.engine.vm.VmState.PAUSED;
import static io.hypervise.engine.vm.VmState.RESTORING;
import static io.hypervise.engine.vm.VmState.RUNNING;
import static io.hypervise.engine.vm.VmState.SAVED;
import static io.hypervise.engine.vm.VmState.SAVING;
import static io.hypervise.engine.vm.VmState.STARTING;
import static io.hypervise.engine.vm.VmState.STOPPING;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The VM's life as data: which actions each state allows, and which state changes can happen at all.
 * Both tables fit on one screen and are checked in one place each.
 */
public final class VmStateMachine {

    /** The states from which people may ask for each action. */
    private static final Map<VmAction, Set<VmState>> ALLOWED = new EnumMap<>(Map.ofEntries(
            Map.entry(VmAction.START, EnumSet.of(OFF, SAVED)),
            Map.entry(VmAction.PAUSE, EnumSet.of(RUNNING)),
            Map.entry(VmAction.RESUME, EnumSet.of(PAUSED)),
            Map.entry(VmAction.SAVE, EnumSet.of(RUNNING, PAUSED)),
            Map.entry(VmAction.SHUT_DOWN, EnumSet.of(RUNNING)),
            Map.entry(VmAction.TURN_OFF, EnumSet.of(STARTING, RUNNING, PAUSED, SAVING, RESTORING, STOPPING)),
            Map.entry(VmAction.RESTART, EnumSet.of(RUNNING, PAUSED)),
            Map.entry(VmAction.RECONFIGURE, EnumSet.of(OFF)),
            Map.entry(VmAction.DISCARD_SAVED_STATE, EnumSet.of(SAVED)),
            Map.entry(VmAction.DELETE, EnumSet.of(OFF, SAVED)),
            // A Saved VM's memory belongs to its disks as they are: no checkpoint moves them under it.
            Map.entry(VmAction.CHECKPOINT, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.APPLY_CHECKPOINT, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.DELETE_CHECKPOINT, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.RESIZE_DISK, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.ADD_DISK, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.CHANGE_RESOURCES, EnumSet.of(OFF, SAVED, RUNNING, PAUSED)),
            Map.entry(VmAction.REMOVE_DISK, EnumSet.of(OFF, RUNNING, PAUSED)),
            // A Saved VM's drive is as its memory remembers it: the medium changes while it runs or is Off.
            Map.entry(VmAction.CHANGE_MEDIUM, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.ADD_NIC, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.REMOVE_NIC, EnumSet.of(OFF, RUNNING, PAUSED)),
            // A Saved VM's memory holds its vCPUs and DIMMs as they were: they change while it runs or is Off.
            Map.entry(VmAction.CHANGE_VCPUS, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.CHANGE_MEMORY, EnumSet.of(OFF, RUNNING, PAUSED)),
            // Live: a VM with a running worker moves with its memory. Off and Saved VMs move as files.
            Map.entry(VmAction.MIGRATE, EnumSet.of(RUNNING, PAUSED))));

    /**
     * Every state change that can happen, whoever causes it (a person, the guest, the worker dying).
     * Any worker-bearing state can fall to Off: a worker can always die.
     */
    private static final Map<VmState, Set<VmState>> TRANSITIONS = new EnumMap<>(Map.of(
            // Off -> Migrating: a VM arriving from another host is defined here and its worker waits for it.
            OFF, EnumSet.of(STARTING, MIGRATING),
            STARTING, EnumSet.of(RUNNING, OFF),
            RUNNING, EnumSet.of(PAUSED, SAVING, STOPPING, MIGRATING, OFF),
            PAUSED, EnumSet.of(RUNNING, SAVING, MIGRATING, OFF),
            // Back to Running or Paused: a migration that failed (source) or one handed over (target).
            MIGRATING, EnumSet.of(RUNNING, PAUSED, OFF),
            SAVING, EnumSet.of(SAVED, RUNNING, PAUSED, OFF),
            SAVED, EnumSet.of(RESTORING, OFF),
            RESTORING, EnumSet.of(RUNNING, PAUSED, SAVED, OFF),
            STOPPING, EnumSet.of(OFF, RUNNING)));

    private VmStateMachine() {
    }

    /** Refuses an action the state does not allow, with a message that says what would allow it. */
    public static void check(VmAction action, VmState state, String vmName) {
        if (!allows(action, state)) {
            throw new VmStateException(vmName, action, state);
        }
    }

    public static boolean allows(VmAction action, VmState state) {
        return ALLOWED.get(action).contains(state);
    }

    /** The actions a VM in this state offers, for user interfaces that show only what is possible. */
    public static Set<VmAction> actionsIn(VmState state) {
        Set<VmAction> actions = EnumSet.noneOf(VmAction.class);
        ALLOWED.forEach((action, states) -> {
            if (states.contains(state)) {
                actions.add(action);
            }
        });
        return actions;
    }

    public static boolean canTransition(VmState from, VmState to) {
        return TRANSITIONS.get(from).contains(to);
    }

    static String describeAllowed(VmAction action) {
        return ALLOWED.get(action).stream().map(VmState::displayName).collect(Collectors.joining(" or "));
    }
}
