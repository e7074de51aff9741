package io.hypervise.server.ui;

import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.Usage;
import java.util.ArrayList;
import java.util.List;

/** A self-service user's quotas as bars: what their VMs take up against what their policies allow. */
public record Quota(List<Bar> bars, List<String> policies, Integer leaseDays) {

    /**
     * One quota: used and allowed in its unit; {@code limit} is null where no policy sets one.
     * {@code policy} is the policy that set it.
     */
    public record Bar(String label, long used, Long limit, String unit, String policy) {

        public int percent() {
            return limit == null || limit == 0 ? 0 : (int) Math.min(100, used * 100 / limit);
        }

        public String describe() {
            return limit == null ? used + " " + unit + " (no limit)" : used + " of " + limit + " " + unit;
        }
    }

    static Quota of(EffectivePolicy policy, Usage usage) {
        List<Bar> bars = new ArrayList<>();
        bars.add(bar("VMs", usage.vms(), policy.maxVms(), "VMs"));
        bars.add(bar("vCPUs", usage.vcpus(), policy.maxVcpus(), "vCPUs"));
        bars.add(bar("Memory", usage.memoryMib(), policy.maxMemoryMib(), "MiB"));
        bars.add(bar("Disk", usage.diskMib(), policy.maxDiskMib(), "MiB"));
        return new Quota(bars, policy.applied().stream().map(p -> p.id()).toList(), policy.leaseDays().value());
    }

    private static Bar bar(String label, long used, EffectivePolicy.Setting<? extends Number> setting, String unit) {
        return new Bar(label, used, setting.configured() ? setting.value().longValue() : null, unit, setting.policy());
    }
}
