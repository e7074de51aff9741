package io.hypervise.server.policy;

import io.hypervise.server.access.Caller;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * What VMs take up, per owner and per Keycloak group, against what the policies allow. A user's
 * groups are known from their tokens only, so a VM counts toward the groups its owner was in when it
 * was created (recorded with the VM).
 */
@ApplicationScoped
public class QuotaUse {

    /** One owner's use; {@code limits} what their policies allow as far as their known groups tell (null: none apply). */
    public record UserUse(String user, List<String> groups, Usage usage, Limits limits) {
    }

    /** The quotas of an effective policy (null: not configured, no limit) and the policies it combines. */
    public record Limits(Integer maxVms, Integer maxVcpus, Long maxMemoryMib, Long maxDiskMib, List<String> policies) {

        static Limits of(EffectivePolicy p) {
            return new Limits(p.maxVms().value(), p.maxVcpus().value(), p.maxMemoryMib().value(), p.maxDiskMib().value(),
                    p.applied().stream().map(AppliedPolicy::id).toList());
        }
    }

    /** Both views at once, as the API gives them. */
    public record Report(List<UserUse> users, List<GroupUse> groups) {
    }

    @Transactional
    public Report report() {
        return new Report(byUser(), byGroup());
    }

    /** One group's use, by however many of its members own VMs, and the policies assigned to it. */
    public record GroupUse(String group, int users, Usage usage, List<String> policies) {
    }

    @Inject
    EntityManager em;

    @Inject
    SelfServicePolicies policies;

    @Transactional
    public List<UserUse> byUser() {
        return rows("""
                SELECT o.owner, 1, count(*), coalesce(sum(o.vcpus), 0), coalesce(sum(o.memory_mib), 0), coalesce(sum(o.disk), 0),
                       (SELECT coalesce(array_agg(DISTINCT g), '{}') FROM vms w, unnest(w.owner_groups) g WHERE w.owner = o.owner)
                FROM (SELECT v.owner, v.vcpus, v.memory_mib,
                             (SELECT coalesce(sum(d.size_bytes), 0) FROM disks d WHERE d.vm_id = v.id) AS disk FROM vms v) o
                GROUP BY o.owner ORDER BY o.owner""").stream()
                .map(r -> {
                    Set<String> groups = Set.of(r.groups());
                    EffectivePolicy limits = policies.effective(new Caller(r.key(), Set.of(), groups, ""));
                    return new UserUse(r.key(), Arrays.stream(r.groups()).sorted().toList(), r.usage(),
                            limits.applied().isEmpty() ? null : Limits.of(limits));
                })
                .toList();
    }

    @Transactional
    public List<GroupUse> byGroup() {
        List<PolicyEntity> all = PolicyEntity.listAll();
        return rows("""
                SELECT g.name, count(DISTINCT v.owner), count(*), coalesce(sum(v.vcpus), 0), coalesce(sum(v.memory_mib), 0),
                       coalesce(sum((SELECT coalesce(sum(d.size_bytes), 0) FROM disks d WHERE d.vm_id = v.id)), 0), '{}'::text[]
                FROM vms v CROSS JOIN LATERAL unnest(v.owner_groups) AS g(name)
                GROUP BY g.name ORDER BY g.name""").stream()
                .map(r -> new GroupUse(r.key(), r.owners(), r.usage(), all.stream()
                        .filter(p -> Arrays.asList(p.assignedGroups).contains(r.key())).map(p -> p.id).sorted().toList()))
                .toList();
    }

    private record Row(String key, int owners, Usage usage, String[] groups) {
    }

    @SuppressWarnings("unchecked")
    private List<Row> rows(String sql) {
        List<Object[]> result = em.createNativeQuery(sql).getResultList();
        return result.stream().map(r -> new Row((String) r[0], ((Number) r[1]).intValue(),
                new Usage(((Number) r[2]).intValue(), ((Number) r[3]).intValue(), ((Number) r[4]).longValue(),
                        ((Number) r[5]).longValue() >> 20),
                strings(r[6]))).toList();
    }

    /** A text[] column as the JDBC driver hands it over. */
    private static String[] strings(Object column) {
        try {
            Object value = column instanceof java.sql.Array array ? array.getArray() : column;
            return value == null ? new String[0] : Arrays.stream((Object[]) value).map(String::valueOf).toArray(String[]::new);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("reading a text[] column: " + e.getMessage(), e);
        }
    }
}
