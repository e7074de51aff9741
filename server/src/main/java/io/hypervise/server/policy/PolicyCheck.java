package io.hypervise.server.policy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Whether a self-service user's VM fits their policies, and if not, every reason why, in words a
 * user understands ("memory quota: 7.5 of 8 GiB in use; this VM needs 1 GiB"). Pure: the same answer
 * for the dry run and for the real thing, given the same usage.
 */
public final class PolicyCheck {

    private PolicyCheck() {
    }

    /** Every reason the candidate is refused; empty when it is allowed. */
    public static List<String> refusals(String user, EffectivePolicy p, Usage used, Candidate c) {
        List<String> r = new ArrayList<>();
        if (p.applied().isEmpty()) {
            r.add(noPolicy(user));
            return r;
        }
        if (c.newVm()) {
            // Where a VM comes from is decided once, when it is created; resizing it later asks only about size.
            if (c.template() == null && !c.fromLibrary()) {
                r.add("self-service VMs are created from a template or from library items" + (p.templates().configured()
                        && !p.templates().value().isEmpty() ? "; allowed templates: " + String.join(", ",
                                new TreeSet<>(p.templates().value())) : ""));
            } else if (c.template() != null) {
                allowed(r, "template", c.template(), p.templates(), user);
            }
            for (String item : new TreeSet<>(c.libraryItems())) {
                allowed(r, "library item", item, p.libraryItems(), user);
            }
            if (c.existingImages() > 0) {
                r.add("self-service VMs get new blank disks (sizeMib), not existing images; this VM names "
                        + c.existingImages() + " existing image" + (c.existingImages() == 1 ? "" : "s"));
            }
            allowed(r, "host group", c.hostGroup(), p.hostGroups(), user);
        }

        largest(r, "vCPUs", p.maxVmVcpus(), c.vcpus(), false);
        largest(r, "memory", p.maxVmMemoryMib(), c.memoryMib(), true);
        largest(r, "disk", p.maxVmDiskMib(), c.diskMib(), true);

        if (c.newVm() && p.maxVms().configured() && used.vms() + 1 > p.maxVms().value()) {
            r.add("VM quota: " + used.vms() + " of " + p.maxVms().value() + " VMs in use" + from(p.maxVms()));
        }
        quota(r, "vCPU", p.maxVcpus(), used.vcpus(), c.vcpus(), false);
        quota(r, "memory", p.maxMemoryMib(), used.memoryMib(), c.memoryMib(), true);
        quota(r, "disk", p.maxDiskMib(), used.diskMib(), c.diskMib(), true);
        return r;
    }

    /**
     * Every reason a VM's room to grow while it runs (its most vCPUs and memory) is refused: a VM may not be able to
     * grow beyond the largest VM its policies allow. Its quota is counted as it grows.
     */
    public static List<String> maximumRefusals(EffectivePolicy p, int maxVcpus, long maxMemoryMib) {
        List<String> r = new ArrayList<>();
        if (p.maxVmVcpus().configured() && maxVcpus > p.maxVmVcpus().value()) {
            r.add("largest VM: at most " + p.maxVmVcpus().value() + " vCPUs per VM" + from(p.maxVmVcpus())
                    + "; this VM may grow to " + maxVcpus + " (maxVcpus)");
        }
        if (p.maxVmMemoryMib().configured() && maxMemoryMib > p.maxVmMemoryMib().value()) {
            r.add("largest VM: at most " + amount(p.maxVmMemoryMib().value(), true) + " of memory per VM"
                    + from(p.maxVmMemoryMib()) + "; this VM may grow to " + amount(maxMemoryMib, true) + " (maxMemoryMib)");
        }
        return r;
    }

    /**
     * Why a self-service user may not put library item {@code item} into a VM they already have (a CD-ROM's
     * medium), or null: as when creating a VM, their own uploads are theirs to use, anyone else's only those
     * their policies name.
     */
    public static String libraryItemRefusal(String user, EffectivePolicy p, String item, String itemOwner) {
        if (p.applied().isEmpty()) {
            return noPolicy(user);
        }
        if (user.equals(itemOwner)) {
            return null;
        }
        List<String> r = new ArrayList<>();
        allowed(r, "library item", item, p.libraryItems(), user);
        return r.isEmpty() ? null : r.getFirst();
    }

    /** Why the action is refused, or null when the policies allow it. */
    public static String actionRefusal(String user, EffectivePolicy p, SelfServiceAction action) {
        if (p.applied().isEmpty()) {
            return noPolicy(user);
        }
        if (p.allows(action)) {
            return null;
        }
        Set<String> allowed = new TreeSet<>();
        if (p.actions().configured()) {
            p.actions().value().forEach(a -> allowed.add(a.id()));
        }
        return "the action '" + action.id() + "' is not allowed for " + user + "; "
                + (allowed.isEmpty() ? "no policy allows any action" : "allowed: " + String.join(", ", allowed))
                + from(p.actions());
    }

    private static String noPolicy(String user) {
        return "no self-service policy applies to " + user + "; an administrator assigns policies to users and groups";
    }

    private static void allowed(List<String> r, String what, String value, EffectivePolicy.Setting<Set<String>> setting,
            String user) {
        if (value == null) {
            r.add("self-service VMs are created from a " + what + (setting.configured() && !setting.value().isEmpty()
                    ? "; allowed: " + String.join(", ", new TreeSet<>(setting.value())) : ""));
        } else if (!setting.configured() || !setting.value().contains(value)) {
            r.add(what + " '" + value + "' is not allowed for " + user + "; "
                    + (setting.configured() && !setting.value().isEmpty()
                            ? "allowed: " + String.join(", ", new TreeSet<>(setting.value())) + from(setting)
                            : "no policy allows any " + what));
        }
    }

    private static void largest(List<String> r, String what, EffectivePolicy.Setting<? extends Number> max, long has,
            boolean mib) {
        if (max.configured() && has > max.value().longValue()) {
            r.add("largest VM: at most " + amount(max.value().longValue(), mib) + (mib ? " of " : " ") + what + " per VM"
                    + from(max) + "; this VM has " + amount(has, mib) + (mib ? "" : " " + what));
        }
    }

    private static void quota(List<String> r, String what, EffectivePolicy.Setting<? extends Number> max, long used,
            long needs, boolean mib) {
        if (max.configured() && used + needs > max.value().longValue()) {
            long limit = max.value().longValue();
            r.add(what + " quota: " + (mib ? ofMib(used, limit) : used + " of " + limit + " " + what + "s")
                    + " in use" + from(max) + "; this VM needs " + amount(needs, mib));
        }
    }

    private static String from(EffectivePolicy.Setting<?> setting) {
        return setting.policy() == null ? "" : " (policy '" + setting.policy() + "')";
    }

    /** "512 MiB", "8 GiB", "7.5 GiB". */
    static String amount(long value, boolean mib) {
        if (!mib) {
            return Long.toString(value);
        }
        return value >= 1024 ? number(value / 1024.0) + " GiB" : value + " MiB";
    }

    /** "7.5 of 8 GiB": both amounts in the limit's unit. */
    static String ofMib(long used, long limit) {
        if (limit >= 1024) {
            return number(used / 1024.0) + " of " + number(limit / 1024.0) + " GiB";
        }
        return used + " of " + limit + " MiB";
    }

    private static String number(double value) {
        String s = String.format(Locale.ROOT, "%.1f", value);
        return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
    }
}
