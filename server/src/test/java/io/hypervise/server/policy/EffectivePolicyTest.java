package io.hypervise.server.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** How several policies combine, case by case (the rule is on {@link EffectivePolicy}). */
class EffectivePolicyTest {

    private static PolicySettings quota(Integer maxVms, Set<String> templates) {
        return new PolicySettings(null, templates, null, maxVms, null, null, null, null, null, null, null);
    }

    private static AppliedPolicy group(String id, int precedence, PolicySettings s) {
        return new AppliedPolicy(id, id, precedence, false, false, s);
    }

    @Test
    void noPolicyConfiguresNothingAndAllowsNothing() {
        EffectivePolicy p = EffectivePolicy.combine(List.of());
        assertThat(p.maxVms().configured()).isFalse();
        assertThat(p.allows(SelfServiceAction.START)).isFalse();
    }

    @Test
    void switchesAreASettingLikeTheOthersAndNoneConfiguredAllowsNone() {
        PolicySettings lab = new PolicySettings(null, null, null, null, null, null, null, null, null, null, null, Set.of("lab"));
        PolicySettings both = new PolicySettings(null, null, null, null, null, null, null, null, null, null, null,
                Set.of("lab", "dev"));
        EffectivePolicy p = EffectivePolicy.combine(List.of(group("wide", 20, both), group("narrow", 5, lab),
                group("silent", 1, quota(3, null))));
        assertThat(p.switches()).isEqualTo(new EffectivePolicy.Setting<>(Set.of("lab"), "narrow"));
        assertThat(p.switches().value()).contains("lab").as("the wider policy's switch, overridden").doesNotContain("dev");
        assertThat(EffectivePolicy.combine(List.of(group("silent", 1, quota(3, null)))).switches().configured()).isFalse();
    }

    @Test
    void theLowerPrecedenceNumberWinsASettingBothConfigure() {
        EffectivePolicy p = EffectivePolicy.combine(List.of(
                group("wide", 20, quota(10, null)), group("narrow", 5, quota(2, null))));
        assertThat(p.maxVms()).isEqualTo(new EffectivePolicy.Setting<>(2, "narrow"));
    }

    @Test
    void aSettingOnlyOnePolicyConfiguresComesFromItWhateverItsPrecedence() {
        EffectivePolicy p = EffectivePolicy.combine(List.of(
                group("first", 1, quota(2, null)), group("last", 900, quota(null, Set.of("tiny-linux")))));
        assertThat(p.maxVms().policy()).isEqualTo("first");
        assertThat(p.templates()).isEqualTo(new EffectivePolicy.Setting<>(Set.of("tiny-linux"), "last"));
    }

    @Test
    void aUsersOwnAssignmentBeatsTheirGroupsEvenWithAWorsePrecedence() {
        AppliedPolicy mine = new AppliedPolicy("alice-only", "x", 500, false, true, quota(7, null));
        EffectivePolicy p = EffectivePolicy.combine(List.of(group("engineering", 1, quota(3, null)), mine));
        assertThat(p.maxVms()).isEqualTo(new EffectivePolicy.Setting<>(7, "alice-only"));
    }

    @Test
    void anEnforcedPolicyBeatsEvenTheUsersOwnAssignment() {
        AppliedPolicy mine = new AppliedPolicy("alice-only", "x", 1, false, true, quota(7, null));
        AppliedPolicy company = new AppliedPolicy("company", "x", 999, true, false, quota(1, null));
        EffectivePolicy p = EffectivePolicy.combine(List.of(mine, company));
        assertThat(p.maxVms()).isEqualTo(new EffectivePolicy.Setting<>(1, "company"));
        assertThat(p.applied()).extracting(AppliedPolicy::id).containsExactly("company", "alice-only");
    }

    @Test
    void betweenEnforcedPoliciesPrecedenceDecides() {
        AppliedPolicy a = new AppliedPolicy("a", "x", 50, true, false, quota(1, null));
        AppliedPolicy b = new AppliedPolicy("b", "x", 10, true, false, quota(4, null));
        assertThat(EffectivePolicy.combine(List.of(a, b)).maxVms().policy()).isEqualTo("b");
    }

    @Test
    void anEmptyListIsConfiguredAndMeansNone() {
        PolicySettings noActions = new PolicySettings(null, null, Set.of(), null, null, null, null, null, null, null, null);
        PolicySettings everything = new PolicySettings(null, null, Set.of(SelfServiceAction.values()), null, null, null,
                null, null, null, null, null);
        EffectivePolicy p = EffectivePolicy.combine(List.of(group("locked", 1, noActions), group("open", 2, everything)));
        assertThat(p.allows(SelfServiceAction.START)).isFalse();
        assertThat(p.actions().policy()).isEqualTo("locked");
    }

    @Test
    void listsAreNotMergedTheDecidingPolicysListIsTheList() {
        EffectivePolicy p = EffectivePolicy.combine(List.of(
                group("a", 1, quota(null, Set.of("tiny-linux"))), group("b", 2, quota(null, Set.of("windows")))));
        assertThat(p.templates().value()).containsExactly("tiny-linux");
    }

    @Test
    void equalRanksAreOrderedByIdSoTheOutcomeNeverDependsOnRowOrder() {
        AppliedPolicy x = group("x", 5, quota(1, null));
        AppliedPolicy y = group("y", 5, quota(2, null));
        assertThat(EffectivePolicy.combine(List.of(y, x)).maxVms().policy()).isEqualTo("x");
        assertThat(EffectivePolicy.combine(List.of(x, y)).maxVms().policy()).isEqualTo("x");
    }
}
