package io.hypervise.server.policy;

import io.hypervise.engine.vm.definition.Resources;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * What all the policies that apply to a user amount to, each setting with the policy it came from.
 *
 * <p>The rule, in the spirit of Group Policy: the policies are put in order, and for each setting the
 * first policy in that order that configures it decides; a setting no policy configures is "not
 * configured" (no template, host group or action is allowed; no quota limits). The order:
 * <ol>
 *   <li>enforced policies before the others (an enforced setting cannot be overridden);</li>
 *   <li>then a policy assigned to the user by name before one that reaches them through a group
 *       (the closer assignment wins, as an OU's policy wins over the domain's);</li>
 *   <li>then by precedence, 1 first;</li>
 *   <li>then by id, so that the outcome never depends on the order the database returns rows in.</li>
 * </ol>
 */
public record EffectivePolicy(
        List<AppliedPolicy> applied,
        Setting<Set<String>> hostGroups,
        Setting<Set<String>> templates,
        Setting<Set<SelfServiceAction>> actions,
        Setting<Integer> maxVms,
        Setting<Integer> maxVcpus,
        Setting<Long> maxMemoryMib,
        Setting<Long> maxDiskMib,
        Setting<Integer> maxVmVcpus,
        Setting<Long> maxVmMemoryMib,
        Setting<Long> maxVmDiskMib,
        Setting<Integer> leaseDays,
        Setting<Set<String>> switches,
        Setting<Set<String>> libraryItems,
        Setting<Long> maxLibraryMib,
        Setting<Resources> vmResources) {

    /** A setting's value (null when no policy configures it) and the id of the policy that decided it. */
    public record Setting<T>(T value, String policy) {

        public boolean configured() {
            return value != null;
        }
    }

    static final Comparator<AppliedPolicy> ORDER = Comparator
            .comparing((AppliedPolicy p) -> !p.enforced())
            .thenComparing(p -> !p.direct())
            .thenComparingInt(AppliedPolicy::precedence)
            .thenComparing(AppliedPolicy::id);

    public static EffectivePolicy combine(List<AppliedPolicy> policies) {
        List<AppliedPolicy> ordered = policies.stream().sorted(ORDER).toList();
        return new EffectivePolicy(ordered,
                first(ordered, PolicySettings::hostGroups),
                first(ordered, PolicySettings::templates),
                first(ordered, PolicySettings::actions),
                first(ordered, PolicySettings::maxVms),
                first(ordered, PolicySettings::maxVcpus),
                first(ordered, PolicySettings::maxMemoryMib),
                first(ordered, PolicySettings::maxDiskMib),
                first(ordered, PolicySettings::maxVmVcpus),
                first(ordered, PolicySettings::maxVmMemoryMib),
                first(ordered, PolicySettings::maxVmDiskMib),
                first(ordered, PolicySettings::leaseDays),
                first(ordered, PolicySettings::switches),
                first(ordered, PolicySettings::libraryItems),
                first(ordered, PolicySettings::maxLibraryMib),
                first(ordered, PolicySettings::vmResources));
    }

    private static <T> Setting<T> first(List<AppliedPolicy> ordered, Function<PolicySettings, T> setting) {
        for (AppliedPolicy p : ordered) {
            T value = setting.apply(p.settings());
            if (value != null) {
                return new Setting<>(value, p.id());
            }
        }
        return new Setting<>(null, null);
    }

    public boolean allows(SelfServiceAction action) {
        return actions.configured() && actions.value().contains(action);
    }
}
