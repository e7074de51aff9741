package io.hypervise.server.placement;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Rates every host for a VM, as SCVMM's host ratings: a host that cannot take the VM gets 0 stars and every
 * reason why; a host that can gets 0 to 5 stars from its free shares of CPU, memory and local storage after
 * placing, weighted, under the goal (balance: most free rates best; consolidate: least free that still fits
 * rates best), with the figures it came from. One set of rules for create, start, migrate and restart; the
 * caller says in the {@link VmDemand} which of them it is. Pure and cheap: rating 1,000 hosts formats their
 * reasons and nothing else; {@link #choose} formats only the winner's.
 *
 * <p>Order: eligible hosts by stars (as shown, in tenths), then, on equal stars, fewer VMs first under balance
 * and more VMs first under consolidate, then by host name, then by host id, then as given. Refused hosts
 * follow, by host name, then id.
 */
public final class Placement {

    private static final long MIB = 1024L * 1024;
    private static final long GIB = 1024L * MIB;
    /** {@link #assess} of a host that cannot take the VM. */
    private static final int REFUSED = -1;

    private Placement() {
    }

    /** Every host rated for the VM, best first; refused hosts last, each with every reason it is refused. */
    public static List<Rating> rate(VmDemand vm, List<HostFacts> hosts, Goal goal, Weights weights) {
        check(vm, hosts, goal, weights);
        String weighting = weights.describe();
        List<Assessed> assessed = new ArrayList<>(hosts.size());
        for (int i = 0; i < hosts.size(); i++) {
            HostFacts host = hosts.get(i);
            List<String> reasons = new ArrayList<>(6);
            int tenths = assess(vm, host, goal, weights, weighting, reasons);
            assessed.add(new Assessed(host, i, tenths, reasons));
        }
        assessed.sort(order(goal));
        List<Rating> ratings = new ArrayList<>(assessed.size());
        for (Assessed a : assessed) {
            ratings.add(rating(a.host, a.tenths, a.reasons));
        }
        return ratings;
    }

    /** The best host that can take the VM ({@link #rate}'s first, when eligible); empty when none can. */
    public static Optional<Rating> choose(VmDemand vm, List<HostFacts> hosts, Goal goal, Weights weights) {
        check(vm, hosts, goal, weights);
        int best = -1;
        int bestTenths = REFUSED;
        for (int i = 0; i < hosts.size(); i++) {
            int tenths = assess(vm, hosts.get(i), goal, weights, null, null);
            if (tenths == REFUSED) {
                continue;
            }
            if (best < 0 || compare(goal, hosts.get(i), i, tenths, hosts.get(best), best, bestTenths) < 0) {
                best = i;
                bestTenths = tenths;
            }
        }
        if (best < 0) {
            return Optional.empty();
        }
        List<String> reasons = new ArrayList<>(6);
        assess(vm, hosts.get(best), goal, weights, weights.describe(), reasons);
        return Optional.of(rating(hosts.get(best), bestTenths, reasons));
    }

    private static void check(VmDemand vm, List<HostFacts> hosts, Goal goal, Weights weights) {
        Objects.requireNonNull(vm, "vm demand");
        Objects.requireNonNull(hosts, "hosts");
        Objects.requireNonNull(goal, "goal");
        Objects.requireNonNull(weights, "weights");
    }

    /**
     * The host's stars in tenths (0 to 50), or {@link #REFUSED}. With {@code reasons}, appends every refusal,
     * or for an eligible host what its stars came from; without, stops at the first refusal and formats nothing.
     */
    private static int assess(VmDemand vm, HostFacts host, Goal goal, Weights weights, String weighting,
            List<String> reasons) {
        if (!host.leaseLive()) {
            if (reasons == null) {
                return REFUSED;
            }
            reasons.add("host lease expired: the host has not renewed it and may be down");
        }
        if (host.inMaintenance()) {
            if (reasons == null) {
                return REFUSED;
            }
            reasons.add("in maintenance mode");
        }
        if (host.id().equals(vm.avoidHost())) {
            if (reasons == null) {
                return REFUSED;
            }
            reasons.add("the VM is already there (the host it moves from)");
        }
        if (!vm.mayRunOn().isEmpty() && !vm.mayRunOn().contains(host.id())) {
            if (reasons == null) {
                return REFUSED;
            }
            reasons.add("not among the hosts this VM may run on: " + String.join(", ", vm.mayRunOn()));
        }
        if (!vm.allowedGroups().isEmpty() && !vm.allowedGroups().contains(host.group())) {
            if (reasons == null) {
                return REFUSED;
            }
            reasons.add("host group '" + host.group() + "' is not allowed for this VM; allowed: "
                    + String.join(", ", vm.allowedGroups()));
        }
        long freeMemory = host.freeMemoryBytes();
        if (freeMemory < vm.memoryBytes()) {
            if (reasons == null) {
                return REFUSED;
            }
            reasons.add("not enough memory: " + mibDown(freeMemory) + " MiB free, " + vm.memoryMib() + " MiB needed");
        }
        if (host.storageFreeBytes() < vm.localDiskBytes()) {
            if (reasons == null) {
                return REFUSED;
            }
            reasons.add("not enough local storage: " + needVersusFree(host.storageFreeBytes(), vm.localDiskBytes()));
        }
        List<String> unreached = null;
        for (String storage : vm.sharedStorage()) {
            if (!host.sharedStorage().contains(storage)) {
                if (reasons == null) {
                    return REFUSED;
                }
                unreached = unreached == null ? new ArrayList<>(2) : unreached;
                unreached.add("'" + storage + "'");
            }
        }
        if (unreached != null) {
            reasons.add("cannot reach shared storage " + String.join(", ", unreached) + " that the VM's disks are on");
        }
        List<String> missing = null;
        for (String aSwitch : vm.switches()) {
            if (!host.switches().contains(aSwitch)) {
                if (reasons == null) {
                    return REFUSED;
                }
                missing = missing == null ? new ArrayList<>(2) : missing;
                missing.add("'" + aSwitch + "'");
            }
        }
        if (missing != null) {
            reasons.add("no virtual switch" + (missing.size() == 1 ? " " : "es ") + String.join(", ", missing)
                    + ", which the VM's network adapters need");
        }
        if (reasons != null && !reasons.isEmpty()) {
            return REFUSED;
        }
        return score(vm, host, goal, weights, weighting, reasons);
    }

    /** Stars in tenths for a host that can take the VM, and with {@code reasons}, what they came from. */
    private static int score(VmDemand vm, HostFacts host, Goal goal, Weights weights, String weighting,
            List<String> reasons) {
        long memoryLeft = host.freeMemoryBytes() - vm.memoryBytes();
        double memoryShare = host.memoryBytes() == 0 ? 0 : (double) memoryLeft / host.memoryBytes();
        boolean loadKnown = host.cpuLoadCores().isPresent();
        double load = loadKnown ? host.cpuLoadCores().getAsDouble() : host.committedVcpus();
        double headroom = Math.max(0, host.cpus() - load - vm.vcpus());
        double cpuShare = headroom / host.cpus();
        long storageLeft = host.storageFreeBytes() - vm.localDiskBytes();
        double storageShare = host.storageBytes() == 0 ? 0 : Math.min(1, (double) storageLeft / host.storageBytes());
        double free = (weights.cpu() * cpuShare + weights.memory() * memoryShare + weights.storage() * storageShare)
                / weights.sum();
        double score = goal == Goal.BALANCE ? free : 1 - free;
        int tenths = (int) Math.round(score * 50);
        if (reasons == null) {
            return tenths;
        }
        reasons.add(decimal(tenths / 10.0) + " stars: " + percent(free) + " % free after placing, weighted "
                + weighting + "; " + goal.explanation());
        reasons.add("memory after placing: " + percent(memoryShare) + " % free (" + partOf(memoryLeft, host.memoryBytes())
                + ")" + unweighted(weights.memory()));
        reasons.add("CPU headroom after placing: " + decimal(headroom) + " of " + cores(host.cpus()) + " ("
                + (loadKnown ? "recent load " + cores(load)
                        : "CPU load unknown, no recent counters: its " + vcpus(host.committedVcpus()) + " counted busy")
                + ", this VM's " + vcpus(vm.vcpus()) + " counted busy)" + unweighted(weights.cpu()));
        int committed = host.committedVcpus() + vm.vcpus();
        if (committed > host.cpus()) {
            reasons.add("CPU overcommitted after placing: " + vcpus(committed) + " on " + cores(host.cpus())
                    + " (allowed; it lowers the headroom only)");
        }
        reasons.add(host.storageBytes() == 0 ? "local storage: none reported, counted as 0 % free" + unweighted(weights.storage())
                : "local storage after placing: " + percent(storageShare) + " % free ("
                        + partOf(storageLeft, host.storageBytes()) + ")" + unweighted(weights.storage()));
        return tenths;
    }

    private static Comparator<Assessed> order(Goal goal) {
        return (a, b) -> compare(goal, a.host, a.index, a.tenths, b.host, b.index, b.tenths);
    }

    /** Negative when host a comes before host b; see the class comment. */
    private static int compare(Goal goal, HostFacts a, int ia, int ta, HostFacts b, int ib, int tb) {
        if (ta != tb) {
            return Integer.compare(tb, ta);
        }
        if (ta != REFUSED && a.vms() != b.vms()) {
            return goal == Goal.BALANCE ? Integer.compare(a.vms(), b.vms()) : Integer.compare(b.vms(), a.vms());
        }
        int byName = a.name().compareTo(b.name());
        if (byName != 0) {
            return byName;
        }
        int byId = a.id().compareTo(b.id());
        return byId != 0 ? byId : Integer.compare(ia, ib);
    }

    private static Rating rating(HostFacts host, int tenths, List<String> reasons) {
        boolean eligible = tenths != REFUSED;
        return new Rating(host.id(), host.name(), eligible ? tenths / 10.0 : 0, eligible, reasons);
    }

    private record Assessed(HostFacts host, int index, int tenths, List<String> reasons) {
    }

    // Amounts in words. Free space is rounded down and needs up, so that a refusal never reads "1 GiB free, 1 GiB needed".

    private static String unweighted(double weight) {
        return weight == 0 ? " (weight 0: not counted)" : "";
    }

    private static String percent(double share) {
        return Long.toString(Math.round(share * 100));
    }

    private static String cores(double cores) {
        return decimal(cores) + (cores == 1 ? " core" : " cores");
    }

    private static String vcpus(int vcpus) {
        return vcpus + (vcpus == 1 ? " vCPU" : " vCPUs");
    }

    /** "512", "1023.9": MiB, rounded down to a tenth. */
    private static String mibDown(long bytes) {
        return tenths(Math.floorDiv(bytes * 10, MIB));
    }

    /** "3.5 GiB free, 10 GiB needed", in the unit of what is needed. */
    private static String needVersusFree(long free, long needed) {
        long unit = needed >= GIB ? GIB : MIB;
        String name = unit == GIB ? " GiB" : " MiB";
        long freeTenths = Math.floorDiv(free * 10, unit);
        long neededTenths = Math.ceilDiv(needed * 10, unit);
        return tenths(freeTenths) + name + " free, " + tenths(neededTenths) + name + " needed";
    }

    /** "2.5 of 4 GiB", "300 of 512 MiB", in the unit of the whole, both rounded down. */
    private static String partOf(long part, long whole) {
        long unit = whole >= GIB ? GIB : MIB;
        return tenths(Math.floorDiv(part * 10, unit)) + " of " + tenths(Math.floorDiv(whole * 10, unit))
                + (unit == GIB ? " GiB" : " MiB");
    }

    /** "0.4", "2": rounded to a tenth, without a trailing ".0". */
    private static String decimal(double value) {
        return tenths(Math.round(value * 10));
    }

    private static String tenths(long tenths) {
        long whole = tenths / 10;
        long tenth = Math.abs(tenths % 10);
        return (tenths < 0 && whole == 0 ? "-" : "") + whole + (tenth == 0 ? "" : "." + tenth);
    }
}
