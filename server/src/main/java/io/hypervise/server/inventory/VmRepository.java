package io.hypervise.server.inventory;

import io.hypervise.engine.vm.VmState;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Stores and loads the VMs' rows. Knows no rules: who may see what, and what a change means, is the
 * VM service's. Each method joins the caller's transaction, or is one of its own where there is none.
 */
@ApplicationScoped
public class VmRepository {

    @Inject
    AgroalDataSource dataSource;

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    /** The VM's row with its disks and adapters; empty for an id no VM can have, whatever bytes it holds. */
    @Transactional
    public Optional<VmEntity> find(String id) {
        VmEntity vm = wellFormed(id) ? VmEntity.findById(id) : null;
        return Optional.ofNullable(vm).map(VmEntity::loaded);
    }

    /** The VMs' names by id, for the ids that still have a VM. */
    @Transactional
    public Map<String, String> namesOf(List<String> ids) {
        return ids.isEmpty() ? Map.of() : VmEntity.<VmEntity>list("id in ?1", ids).stream()
                .collect(Collectors.toMap(vm -> vm.id, vm -> vm.name));
    }

    /** The rows of the VMs this host runs. Inside the caller's transaction: they are changed in it. */
    @Transactional(Transactional.TxType.MANDATORY)
    public List<VmEntity> onHost(String hostId) {
        return VmEntity.list("hostId", hostId);
    }

    @Transactional(Transactional.TxType.MANDATORY)
    public boolean exists(String id) {
        return VmEntity.findById(id) != null;
    }

    /** The name of the VM with a network adapter of this MAC, if one has it (MACs are unique in the inventory). */
    @Transactional
    public Optional<String> holderOfMac(String mac) {
        return NicEntity.<NicEntity>find("mac", mac).firstResultOptional().map(n -> n.vm.name);
    }

    /**
     * Writes a new row now, inside the caller's transaction, so what follows in it sees the row. The entity
     * is then no longer watched (later changes to it are not saved): the commit has nothing of it to check,
     * and a creation's commit comes while it holds the audit chain's lock.
     */
    @Transactional(Transactional.TxType.MANDATORY)
    public void insert(VmEntity vm) {
        vm.persist();
        VmEntity.flush();
        VmEntity.getEntityManager().detach(vm); // its disks and adapters with it (cascade)
    }

    /** Marks what is under way for the VM (null: nothing): in the caller's transaction, or committed now. */
    @Transactional
    public void markPending(String id, VmEntity.Pending pending) {
        // Plain JDBC on the transaction's connection: through Hibernate this update cost a tenth of a
        // creation's CPU (interpreted anew, and a flush of the session first), by JFR.
        try (Connection c = dataSource.getConnection();
                PreparedStatement update = c.prepareStatement("UPDATE vms SET pending = ? WHERE id = ?")) {
            update.setString(1, pending == null ? null : pending.name());
            update.setString(2, id);
            update.executeUpdate();
        } catch (SQLException e) {
            throw new InventoryUnavailableException("cannot mark VM " + id + ": " + e.getMessage(), e);
        }
    }

    /** Removes the VM's row with its disks and adapters: in the caller's transaction, or committed now. */
    @Transactional
    public void remove(String id) {
        VmEntity.deleteById(id);
    }

    /** Records the state the engine reports: in the caller's transaction, or committed now. */
    @Transactional
    public void recordState(String id, VmState state, String reason, Instant since) {
        VmEntity.update("state = ?1, stateReason = ?2, stateSince = ?3, updatedAt = ?4 where id = ?5",
                state, VmEntity.reason(reason), since, Instant.now(), id);
    }

    /** Whether the text is an id a VM can have (lower-case letters, digits, dashes; at most 40). */
    static boolean wellFormed(String id) {
        return id != null && ID.matcher(id).matches();
    }
}
