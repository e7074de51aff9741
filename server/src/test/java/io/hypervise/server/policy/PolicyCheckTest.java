package io.hypervise.server.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Refusals in words a user understands, one per broken rule. */
class PolicyCheckTest {

    private static final PolicySettings ENGINEERING = new PolicySettings(Set.of("default"), Set.of("tiny-linux"),
            Set.of(SelfServiceAction.START, SelfServiceAction.SHUT_DOWN), 3, 8, 8192L, 20480L, 4, 4096L, 10240L, null);

    private static EffectivePolicy engineering() {
        return EffectivePolicy.combine(List.of(new AppliedPolicy("engineering", "Engineering", 10, false, false, ENGINEERING)));
    }

    private static Candidate vm(int vcpus, long memoryMib, long diskMib) {
        return new Candidate("tiny-linux", "default", vcpus, memoryMib, diskMib, 0, true);
    }

    @Test
    void aVmThatFitsIsAllowed() {
        assertThat(PolicyCheck.refusals("alice", engineering(), new Usage(2, 4, 4096, 0), vm(1, 1024, 1024))).isEmpty();
    }

    @Test
    void theMemoryQuotaSaysWhatIsInUseAndWhatTheVmNeeds() {
        assertThat(PolicyCheck.refusals("alice", engineering(), new Usage(1, 1, 7680, 0), vm(1, 1024, 0)))
                .containsExactly("memory quota: 7.5 of 8 GiB in use (policy 'engineering'); this VM needs 1 GiB");
    }

    @Test
    void everyBrokenRuleIsListed() {
        Candidate big = new Candidate("windows-11", "gpu", 6, 5120, 0, 1, true);
        assertThat(PolicyCheck.refusals("alice", engineering(), new Usage(3, 4, 0, 0), big)).containsExactly(
                "template 'windows-11' is not allowed for alice; allowed: tiny-linux (policy 'engineering')",
                "self-service VMs get new blank disks (sizeMib), not existing images; this VM names 1 existing image",
                "host group 'gpu' is not allowed for alice; allowed: default (policy 'engineering')",
                "largest VM: at most 4 vCPUs per VM (policy 'engineering'); this VM has 6 vCPUs",
                "largest VM: at most 4 GiB of memory per VM (policy 'engineering'); this VM has 5 GiB",
                "VM quota: 3 of 3 VMs in use (policy 'engineering')",
                "vCPU quota: 4 of 8 vCPUs in use (policy 'engineering'); this VM needs 6");
    }

    @Test
    void roomToGrowIsCappedByTheLargestVm() {
        assertThat(PolicyCheck.maximumRefusals(engineering(), 4, 4096)).isEmpty();
        assertThat(PolicyCheck.maximumRefusals(engineering(), 6, 6144)).containsExactly(
                "largest VM: at most 4 vCPUs per VM (policy 'engineering'); this VM may grow to 6 (maxVcpus)",
                "largest VM: at most 4 GiB of memory per VM (policy 'engineering'); this VM may grow to 6 GiB (maxMemoryMib)");
    }

    @Test
    void withoutAnyPolicyNothingIsAllowedAndTheUserIsToldWhy() {
        assertThat(PolicyCheck.refusals("bob", EffectivePolicy.combine(List.of()), Usage.NONE, vm(1, 256, 0)))
                .containsExactly("no self-service policy applies to bob; an administrator assigns policies to users and groups");
    }

    @Test
    void aFullDefinitionWithoutTemplateIsRefused() {
        Candidate noTemplate = new Candidate(null, "default", 1, 256, 0, 0, true);
        assertThat(PolicyCheck.refusals("alice", engineering(), Usage.NONE, noTemplate))
                .containsExactly("self-service VMs are created from a template or from library items; allowed templates: tiny-linux");
    }

    @Test
    void libraryItemsArePolicysToAllowButForTheUsersOwnUploads() {
        EffectivePolicy golden = EffectivePolicy.combine(List.of(new AppliedPolicy("golden", "Golden", 10, false, false,
                new PolicySettings(Set.of("default"), null, null, null, null, null, null, null, null, null, null, null,
                        Set.of("lib-golden01"), null))));
        assertThat(PolicyCheck.refusals("alice", golden, Usage.NONE,
                new Candidate(null, true, Set.of("lib-golden01"), "default", 1, 256, 0, 0, true))).isEmpty();
        assertThat(PolicyCheck.refusals("alice", golden, Usage.NONE,
                new Candidate(null, true, Set.of("lib-golden01", "lib-secret01"), "default", 1, 256, 0, 0, true)))
                .containsExactly("library item 'lib-secret01' is not allowed for alice; allowed: lib-golden01 (policy 'golden')");
        assertThat(PolicyCheck.refusals("alice", golden, Usage.NONE,
                new Candidate(null, true, Set.of(), "default", 1, 256, 0, 0, true))).as("only her own uploads").isEmpty();
        assertThat(PolicyCheck.refusals("alice", engineering(), Usage.NONE,
                new Candidate(null, true, Set.of("lib-golden01"), "default", 1, 256, 0, 0, true)))
                .containsExactly("library item 'lib-golden01' is not allowed for alice; no policy allows any library item");
    }

    @Test
    void resizingAVmDoesNotCountItTwiceNorAskWhereItCameFrom() {
        Candidate resized = new Candidate(null, null, 4, 4096, 0, 0, false);
        assertThat(PolicyCheck.refusals("alice", engineering(), new Usage(3, 4, 4096, 0), resized)).isEmpty();
    }

    @Test
    void anActionNotAllowedNamesTheOnesThatAre() {
        assertThat(PolicyCheck.actionRefusal("alice", engineering(), SelfServiceAction.DELETE))
                .isEqualTo("the action 'delete' is not allowed for alice; allowed: shut-down, start (policy 'engineering')");
        assertThat(PolicyCheck.actionRefusal("alice", engineering(), SelfServiceAction.START)).isNull();
    }

    @Test
    void amountsReadNaturally() {
        assertThat(PolicyCheck.amount(512, true)).isEqualTo("512 MiB");
        assertThat(PolicyCheck.amount(2048, true)).isEqualTo("2 GiB");
        assertThat(PolicyCheck.ofMib(7680, 8192)).isEqualTo("7.5 of 8 GiB");
        assertThat(PolicyCheck.ofMib(300, 512)).isEqualTo("300 of 512 MiB");
    }
}
