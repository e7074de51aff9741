package io.hypervise.server.access;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.access.VmDecision.Verdict;
import io.hypervise.server.policy.AppliedPolicy;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.PolicySettings;
import io.hypervise.server.policy.SelfServiceAction;
import io.hypervise.server.vm.VmOperation;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The one rule of who may do what to a VM, without a server: roles, ownership, policies, leases, the console. */
class VmAccessRuleTest {

    private static final Caller ADMIN = Caller.of("admin", Set.of("hv-admin"), Set.of(), "127.0.0.1");
    private static final Caller AUDITOR = Caller.of("auditor", Set.of("hv-auditor"), Set.of(), "127.0.0.1");
    private static final Caller BOB = Caller.of("bob", Set.of("hv-self-service"), Set.of("qa"), "127.0.0.1");
    private static final Caller NOBODY = Caller.of("eve", Set.of(), Set.of(), "127.0.0.1");

    private static final VmAccessRule.Subject BOBS = aVm("bob", null);
    private static final VmAccessRule.Subject ALICES = aVm("alice", null);

    @Test
    void aVmSomeoneMayNotReadDoesNotExistForThemWhateverTheyAsk() {
        for (VmOperation operation : VmOperation.values()) {
            VmDecision decision = VmAccessRule.decide(BOB, ALICES, operation, policy(SelfServiceAction.values()));
            assertThat(decision.verdict()).as(operation.name()).isEqualTo(Verdict.NOT_FOUND);
            assertThat(decision.verdict().status()).isEqualTo(404);
            assertThat(VmAccessRule.decide(NOBODY, BOBS, operation, null).verdict()).isEqualTo(Verdict.NOT_FOUND);
        }
    }

    @Test
    void rolesDecideForCallersPoliciesDoNotGovern() {
        assertThat(VmAccessRule.decide(ADMIN, ALICES, VmOperation.DELETE, null).allowed()).isTrue();
        VmDecision auditorStarts = VmAccessRule.decide(AUDITOR, ALICES, VmOperation.START, null);
        assertThat(auditorStarts.verdict()).isEqualTo(Verdict.FORBIDDEN);
        assertThat(auditorStarts.verdict().status()).isEqualTo(403);
        assertThat(auditorStarts.reason()).contains("auditor has no role that may operate VMs");
        assertThat(VmAccessRule.decide(AUDITOR, ALICES, VmOperation.READ, null).allowed()).isTrue();
        assertThat(VmAccessRule.decide(AUDITOR, ALICES, VmOperation.SCREEN, null).verdict()).isEqualTo(Verdict.FORBIDDEN);
    }

    @Test
    void aSelfServiceUsersPolicyNamesWhatTheyMayDoToTheirOwnVms() {
        EffectivePolicy startOnly = policy(SelfServiceAction.START);
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.START, startOnly).allowed()).isTrue();
        VmDecision save = VmAccessRule.decide(BOB, BOBS, VmOperation.SAVE, startOnly);
        assertThat(save.verdict()).isEqualTo(Verdict.REFUSED_BY_POLICY);
        assertThat(save.reason()).contains("the action 'save' is not allowed for bob").contains("allowed: start");
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.DISCARD_SAVED_STATE, policy(SelfServiceAction.SAVE)).allowed())
                .as("discarding a saved state is part of saving").isTrue();
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.RESTART, policy(SelfServiceAction.TURN_OFF)).allowed())
                .as("a reset is part of turning off").isTrue();
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.READ, policy(SelfServiceAction.START)).allowed())
                .as("reading one's own VM needs no policy action").isTrue();
    }

    @Test
    void aVmWhoseLeaseEndedDoesNotStartForItsSelfServiceOwnerButDoesForAnAdministrator() {
        VmAccessRule.Subject expired = aVm("bob", Instant.parse("2026-01-01T00:00:00Z"));
        VmDecision start = VmAccessRule.decide(BOB, expired, VmOperation.START, policy(SelfServiceAction.START));
        assertThat(start.verdict()).isEqualTo(Verdict.REFUSED_BY_POLICY);
        assertThat(start.reason()).isEqualTo("the lease of VM 'box' ended at 2025-12-01T00:00:00Z; an administrator can extend it");
        assertThat(VmAccessRule.decide(ADMIN, expired, VmOperation.START, null).allowed()).isTrue();
        assertThat(VmAccessRule.decide(BOB, expired, VmOperation.TURN_OFF, policy(SelfServiceAction.TURN_OFF)).allowed()).isTrue();
    }

    @Test
    void theConsoleIsToUseToWatchOrNotAtAllAsRolesAndPoliciesSay() {
        VmDecision admin = VmAccessRule.decide(ADMIN, BOBS, VmOperation.CONSOLE, null);
        assertThat(admin.allowed()).isTrue();
        assertThat(admin.watchOnly()).isFalse();
        VmDecision watching = VmAccessRule.decide(BOB, BOBS, VmOperation.CONSOLE, policy(SelfServiceAction.CONSOLE_VIEW_ONLY));
        assertThat(watching.allowed()).isTrue();
        assertThat(watching.watchOnly()).isTrue();
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.CONSOLE, policy(SelfServiceAction.CONSOLE)).watchOnly()).isFalse();
        VmDecision none = VmAccessRule.decide(BOB, BOBS, VmOperation.CONSOLE, policy(SelfServiceAction.START));
        assertThat(none.verdict()).isEqualTo(Verdict.REFUSED_BY_POLICY);
        assertThat(none.reason()).contains("'console-view-only' is not allowed for bob");
        assertThat(VmAccessRule.decide(AUDITOR, BOBS, VmOperation.CONSOLE, null).verdict()).isEqualTo(Verdict.FORBIDDEN);
    }

    @Test
    void aThumbnailGoesToWhoeverMayAtLeastWatchTheConsole() {
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.SCREEN, policy(SelfServiceAction.CONSOLE)).allowed()).isTrue();
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.SCREEN, policy(SelfServiceAction.CONSOLE_VIEW_ONLY)).allowed()).isTrue();
        assertThat(VmAccessRule.decide(BOB, BOBS, VmOperation.SCREEN, policy(SelfServiceAction.PAUSE)).verdict())
                .isEqualTo(Verdict.REFUSED_BY_POLICY);
    }

    @Test
    void theHostActingOnItsOwnMayDoAnythingButNoSignedInUserIsTheHost() {
        assertThat(VmAccessRule.decide(Caller.host(), ALICES, VmOperation.DELETE, null).allowed()).isTrue();
        Caller namedSystem = new Caller(Caller.HOST, Set.of(), Set.of(), "127.0.0.1");
        assertThat(namedSystem.isHost()).isFalse();
        assertThat(VmAccessRule.decide(namedSystem, ALICES, VmOperation.DELETE, null).verdict()).isEqualTo(Verdict.NOT_FOUND);
    }

    private static VmAccessRule.Subject aVm(String owner, Instant leaseStoppedAt) {
        return new VmAccessRule.Subject("vm-1", "box", owner,
                leaseStoppedAt == null ? null : Instant.parse("2025-12-01T00:00:00Z"), leaseStoppedAt);
    }

    private static EffectivePolicy policy(SelfServiceAction... actions) {
        EnumSet<SelfServiceAction> allowed = EnumSet.noneOf(SelfServiceAction.class);
        allowed.addAll(List.of(actions));
        PolicySettings settings = new PolicySettings(Set.of("default"), Set.of("stub"), allowed,
                null, null, null, null, null, null, null, null);
        return EffectivePolicy.combine(List.of(new AppliedPolicy("p", "P", 10, false, false, settings)));
    }
}
