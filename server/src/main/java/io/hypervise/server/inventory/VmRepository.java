package io.hypervise.server.inventory;

import io.hypervise.engine.vm.VmState;
import io.quarkus.panache.common.Page;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.HashMap;
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

    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    /** The VM's row with its disks and adapters; empty for an id no VM can have, whatever bytes it holds. */
    @Transactional
    public Optional<VmEntity> find(String id) {
        VmEntity vm = wellFormed(id) ? VmEntity.findById(id) : null;
        return Optional.ofNullable(vm).map(VmEntity::loaded);
    }

    /** A page of VMs by name, filtered, and only {@code onlyOwner}'s where given. */
    @Transactional
    public PageOf<VmEntity> page(Optional<String> onlyOwner, VmFilter filter, int page, int size) {
        StringBuilder query = new StringBuilder("1 = 1");
        Map<String, Object> params = new HashMap<>();
        onlyOwner.ifPresent(me -> {
            query.append(" and owner = :me");
            params.put("me", me);
        });
        filter.owner().ifPresent(o -> {
            query.append(" and owner = :owner");
            params.put("owner", o);
        });
        filter.state().ifPresent(s -> {
            query.append(" and state = :state");
            params.put("state", s);
        });
        filter.nameContains().ifPresent(n -> {
            query.append(" and lower(name) like :name");
            params.put("name", "%" + n.toLowerCase().replace("%", "\\%").replace("_", "\\_") + "%");
        });
        var found = VmEntity.find(query.toString(), Sort.by("name").and("id"), params);
        long total = found.count();
        List<VmEntity> items = found.page(Page.of(page, size)).list();
        items.forEach(VmEntity::loaded);
        return new PageOf<>(items, page, size, total);
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

    /** Writes a new row now, inside the caller's transaction, so what follows in it sees the row. */
    @Transactional(Transactional.TxType.MANDATORY)
    public void insert(VmEntity vm) {
        vm.persist();
        VmEntity.flush();
    }

    /** Marks what is under way for the VM (null: nothing): in the caller's transaction, or committed now. */
    @Transactional
    public void markPending(String id, VmEntity.Pending pending) {
        VmEntity.update("pending = ?1 where id = ?2", pending, id);
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

    private static boolean wellFormed(String id) {
        return id != null && ID.matcher(id).matches();
    }
}
