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
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class VmStateMachineTest {

    /** The expected tables, written out independently of the implementation's. */
    private static final Map<VmAction, Set<VmState>> EXPECTED_ACTIONS = Map.ofEntries(
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
            Map.entry(VmAction.CHECKPOINT, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.APPLY_CHECKPOINT, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.DELETE_CHECKPOINT, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.RESIZE_DISK, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.ADD_DISK, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.REMOVE_DISK, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.CHANGE_RESOURCES, EnumSet.of(OFF, SAVED, RUNNING, PAUSED)),
            Map.entry(VmAction.CHANGE_MEDIUM, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.ADD_NIC, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.REMOVE_NIC, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.CHANGE_VCPUS, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.CHANGE_MEMORY, EnumSet.of(OFF, RUNNING, PAUSED)),
            Map.entry(VmAction.MIGRATE, EnumSet.of(RUNNING, PAUSED)));

    private static final Map<VmState, Set<VmState>> EXPECTED_TRANSITIONS = Map.of(
            OFF, EnumSet.of(STARTING, MIGRATING),
            STARTING, EnumSet.of(RUNNING, OFF),
            RUNNING, EnumSet.of(PAUSED, SAVING, STOPPING, MIGRATING, OFF),
            PAUSED, EnumSet.of(RUNNING, SAVING, MIGRATING, OFF),
            MIGRATING, EnumSet.of(RUNNING, PAUSED, OFF),
            SAVING, EnumSet.of(SAVED, RUNNING, PAUSED, OFF),
            SAVED, EnumSet.of(RESTORING, OFF),
            RESTORING, EnumSet.of(RUNNING, PAUSED, SAVED, OFF),
            STOPPING, EnumSet.of(OFF, RUNNING));

    @ParameterizedTest
    @EnumSource(VmAction.class)
    void everyActionIsAllowedExactlyInItsStates(VmAction action) {
        for (VmState state : VmState.values()) {
            boolean expected = EXPECTED_ACTIONS.get(action).contains(state);
            assertThat(VmStateMachine.allows(action, state))
                    .as("%s while %s", action, state)
                    .isEqualTo(expected);
            if (expected) {
                assertThatCode(() -> VmStateMachine.check(action, state, "web-1")).doesNotThrowAnyException();
            } else {
                assertThatThrownBy(() -> VmStateMachine.check(action, state, "web-1"))
                        .isInstanceOf(VmStateException.class)
                        .hasMessageStartingWith("cannot " + action.verb() + " VM 'web-1' while it is " + state.displayName());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(VmState.class)
    void everyTransitionIsLegalExactlyAsTabled(VmState from) {
        for (VmState to : VmState.values()) {
            assertThat(VmStateMachine.canTransition(from, to))
                    .as("%s -> %s", from, to)
                    .isEqualTo(EXPECTED_TRANSITIONS.get(from).contains(to));
        }
    }

    @Test
    void pausingASavedVmSaysWhatWouldAllowIt() {
        assertThatThrownBy(() -> VmStateMachine.check(VmAction.PAUSE, SAVED, "web-1"))
                .hasMessage("cannot pause VM 'web-1' while it is Saved; pause is possible when it is Running");
    }

    /** A new engine finds a worker mid-action (WorkerSupervisor.resumeSupervision) and settles it through the table. */
    @Test
    void aWorkerFoundMidActionByANewEngineIsSettledThroughTheTable() {
        assertThat(VmStateMachine.canTransition(STARTING, OFF)).as("half-started: turned off").isTrue();
        assertThat(VmStateMachine.canTransition(RESTORING, SAVED)).as("restoring: ended, saved state kept").isTrue();
        assertThat(VmStateMachine.canTransition(SAVING, SAVED)).as("its save had completed").isTrue();
        assertThat(VmStateMachine.canTransition(SAVING, RUNNING)).as("its save cancelled, it was running").isTrue();
        assertThat(VmStateMachine.canTransition(SAVING, PAUSED)).as("its save cancelled, it was paused").isTrue();
    }

    /** A migration that fails puts the source back as it was; the target is handed over Running or Paused. */
    @Test
    void aMigratingVmEndsRunningPausedOrOffAndNothingElseCanBeAskedOfIt() {
        assertThat(VmStateMachine.canTransition(RUNNING, MIGRATING)).isTrue();
        assertThat(VmStateMachine.canTransition(OFF, MIGRATING)).as("arriving from another host").isTrue();
        assertThat(VmStateMachine.canTransition(MIGRATING, SAVED)).isFalse();
        assertThat(VmStateMachine.actionsIn(MIGRATING)).isEmpty();
        assertThatThrownBy(() -> VmStateMachine.check(VmAction.MIGRATE, SAVED, "web-1"))
                .hasMessage("cannot migrate VM 'web-1' while it is Saved; migrate is possible when it is Running or Paused");
    }

    @Test
    void everyWorkerBearingStateCanFallToOffBecauseWorkersDie() {
        for (VmState state : VmState.values()) {
            if (state.hasWorker()) {
                assertThat(VmStateMachine.canTransition(state, OFF)).as(state.name()).isTrue();
            }
        }
    }

    @Test
    void actionsOfferedInAStateAreTheAllowedOnes() {
        assertThat(VmStateMachine.actionsIn(RUNNING)).containsExactlyInAnyOrder(
                VmAction.PAUSE, VmAction.SAVE, VmAction.SHUT_DOWN, VmAction.TURN_OFF, VmAction.RESTART,
                VmAction.CHECKPOINT, VmAction.APPLY_CHECKPOINT, VmAction.DELETE_CHECKPOINT, VmAction.RESIZE_DISK,
                VmAction.ADD_DISK, VmAction.REMOVE_DISK, VmAction.CHANGE_RESOURCES, VmAction.CHANGE_MEDIUM,
                VmAction.ADD_NIC, VmAction.REMOVE_NIC, VmAction.CHANGE_VCPUS, VmAction.CHANGE_MEMORY, VmAction.MIGRATE);
        assertThat(VmStateMachine.actionsIn(SAVED)).containsExactlyInAnyOrder(
                VmAction.START, VmAction.DISCARD_SAVED_STATE, VmAction.DELETE, VmAction.CHANGE_RESOURCES);
    }
}
