package io.hypervise.server.policy;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.audit.AuditLog;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;
import java.util.List;
import java.util.Objects;

/**
 * The self-service policies as they bear on one caller: which apply, what they allow, and what the
 * caller's VMs already take up. Policies govern callers whose roles reach only their own VMs
 * (self-service users); administrators and operators are not limited by them.
 *
 * <p>Quota checks are atomic: {@link #lockQuota(String)} serializes, per owner, everything that
 * changes what the owner's VMs take up, until the transaction ends. PostgreSQL is the arbiter: two
 * servers, or fifty requests at once, see each other's VMs.
 */
@ApplicationScoped
public class SelfServicePolicies {

    @Inject
    EntityManager em;

    @Inject
    AuditLog audit;

    /** Whether policies limit what the caller does with the permission. */
    public boolean govern(Caller caller, Permission permission) {
        return caller.reach(permission) == Reach.OWN;
    }

    /** The caller's effective policy. */
    @Transactional
    public EffectivePolicy effective(Caller caller) {
        List<AppliedPolicy> applied = PolicyEntity.<PolicyEntity>listAll().stream()
                .map(p -> p.appliedTo(caller.username(), caller.groups()))
                .filter(Objects::nonNull)
                .toList();
        return EffectivePolicy.combine(applied);
    }

    /** What the owner's VMs take up, leaving out one VM (null for none): the one being resized. */
    @Transactional
    public Usage usage(String owner, String excludingVm) {
        Object[] vms = (Object[]) em.createNativeQuery("""
                SELECT count(*), coalesce(sum(vcpus), 0), coalesce(sum(memory_mib), 0)
                FROM vms WHERE owner = ?1 AND id <> coalesce(?2, '')""")
                .setParameter(1, owner).setParameter(2, excludingVm).getSingleResult();
        // Disks by their size, checkpoints by what they added to their VM's disk files.
        Number diskBytes = (Number) em.createNativeQuery("""
                SELECT (SELECT coalesce(sum(d.size_bytes), 0) FROM disks d JOIN vms v ON v.id = d.vm_id
                        WHERE v.owner = ?1 AND v.id <> coalesce(?2, ''))
                     + (SELECT coalesce(sum(c.size_bytes), 0) FROM checkpoints c JOIN vms v ON v.id = c.vm_id
                        WHERE v.owner = ?1 AND v.id <> coalesce(?2, ''))""")
                .setParameter(1, owner).setParameter(2, excludingVm).getSingleResult();
        return new Usage(((Number) vms[0]).intValue(), ((Number) vms[1]).intValue(), ((Number) vms[2]).longValue(),
                diskBytes.longValue() >> 20);
    }

    /**
     * Holds the owner's quota until the transaction ends: whoever checks a quota and then adds to
     * what it counts must hold it from before the check until after the change is written.
     */
    @Transactional(Transactional.TxType.MANDATORY)
    public void lockQuota(String owner) {
        em.createNativeQuery("SELECT pg_advisory_xact_lock(hashtextextended('hv-quota:' || ?1, 0))")
                .setParameter(1, owner).getSingleResult();
    }

    /** Refuses (403, audited) an action the caller's policies do not allow; nothing for callers they do not govern. */
    public void checkAction(Caller caller, Permission permission, SelfServiceAction action, String auditAction, String target) {
        if (!govern(caller, permission)) {
            return;
        }
        String refusal = PolicyCheck.actionRefusal(caller.username(), effective(caller), action);
        if (refusal != null) {
            audit.recordDenial(caller, auditAction, target, null, refusal);
            throw new PolicyDeniedException(List.of(refusal));
        }
    }
}
