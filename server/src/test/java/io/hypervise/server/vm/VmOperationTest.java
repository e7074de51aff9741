package io.hypervise.server.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.vm.VmAction;
import io.hypervise.server.policy.SelfServiceAction;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Each operation is named once, and every name the API, the pages, the jobs and the audit log use comes from it. */
class VmOperationTest {

    @Test
    void theLifecycleOperationsAreTheApisActionsInThePagesOrder() {
        assertThat(VmOperation.lifecycle().stream().map(VmOperation::path)).containsExactly(
                "start", "shut-down", "turn-off", "pause", "resume", "save", "restart", "discard-saved-state");
        assertThat(VmOperation.lifecycle("shut-down")).contains(VmOperation.SHUT_DOWN);
        assertThat(VmOperation.lifecycle("delete")).as("deleting has a method of its own, not a POST action").isEmpty();
        assertThat(VmOperation.lifecycle("teleport")).isEmpty();
    }

    @Test
    void eachLifecycleOperationHasAnEngineActionAndAPolicyAction() {
        for (VmOperation operation : VmOperation.lifecycle()) {
            assertThat(operation.engineAction()).as(operation.name()).isNotNull();
            assertThat(operation.policyAction()).as(operation.name()).isNotNull();
            assertThat(operation.label()).isNotBlank();
        }
        assertThat(VmOperation.RESUME.policyAction()).isEqualTo(SelfServiceAction.PAUSE);
        assertThat(VmOperation.DISCARD_SAVED_STATE.engineAction()).isEqualTo(VmAction.DISCARD_SAVED_STATE);
    }

    @Test
    void jobKindsAndAuditNamesComeFromThePathAndLeadBack() {
        assertThat(VmOperation.SHUT_DOWN.jobKind()).isEqualTo("vm-shut-down");
        assertThat(VmOperation.SHUT_DOWN.auditName()).isEqualTo("vm.shut-down");
        assertThat(VmOperation.EXTEND_LEASE.auditName()).isEqualTo("vm.lease.extend");
        assertThat(VmOperation.ofJobKind("vm-save")).contains(VmOperation.SAVE);
        assertThat(VmOperation.MIGRATE.jobKind()).isEqualTo("vm-migrate");
        assertThat(VmOperation.MIGRATE.auditName()).isEqualTo("vm.migrate");
        assertThat(VmOperation.MIGRATE.isLifecycle()).as("its own endpoint, with a body").isFalse();
        assertThat(Arrays.stream(VmOperation.values()).filter(VmOperation::runsAsJob))
                .containsExactlyInAnyOrder(VmOperation.START, VmOperation.SHUT_DOWN, VmOperation.SAVE, VmOperation.STORE,
                        VmOperation.CHECKPOINT, VmOperation.APPLY_CHECKPOINT, VmOperation.DELETE_CHECKPOINT, VmOperation.MIGRATE);
        // Job kinds are words and dashes (the jobs table says so); the audit name keeps the path's dots.
        assertThat(VmOperation.APPLY_CHECKPOINT.jobKind()).isEqualTo("vm-checkpoint-apply");
        assertThat(VmOperation.APPLY_CHECKPOINT.auditName()).isEqualTo("vm.checkpoint.apply");
        assertThat(VmOperation.ofJobKind("vm-checkpoint-apply")).contains(VmOperation.APPLY_CHECKPOINT);
        // Inserting and ejecting a CD are one engine action, audited apart.
        assertThat(VmOperation.INSERT_MEDIUM.auditName()).isEqualTo("vm.cdrom.insert");
        assertThat(VmOperation.EJECT_MEDIUM.auditName()).isEqualTo("vm.cdrom.eject");
        assertThat(VmOperation.INSERT_MEDIUM.engineAction()).isEqualTo(VmOperation.EJECT_MEDIUM.engineAction())
                .isEqualTo(VmAction.CHANGE_MEDIUM);
    }

    @Test
    void theHardOnesAskFirstNamingTheVm() {
        assertThat(VmOperation.TURN_OFF.confirmation("web-1")).startsWith("Turn off VM 'web-1'?");
        assertThat(VmOperation.START.confirmation("web-1")).isNull();
    }
}
