package io.hypervise.server.inventory;

import io.quarkus.hibernate.orm.panache.Panache;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which VM each of a host's block devices is given to (pass-through disks): at most one, by the table's
 * primary key. A claim is written in the transaction that records a request's intent, before the engine
 * opens the device; of two requests for one device, the second's insert breaks the key and it is refused.
 */
@ApplicationScoped
public class HostDeviceClaims {

    /** The id of the VM the device on the host is given to, if any. */
    @Transactional
    public Optional<String> holder(String hostId, String device) {
        List<?> rows = Panache.getEntityManager()
                .createNativeQuery("SELECT vm_id FROM host_device_claims WHERE host_id = ?1 AND device = ?2")
                .setParameter(1, hostId).setParameter(2, device).getResultList();
        return rows.stream().map(Object::toString).findFirst();
    }

    /** Gives the device to the VM, in the caller's transaction, flushed at once: a device given already breaks the key. */
    @Transactional(Transactional.TxType.MANDATORY)
    public void claim(String hostId, String device, String vmId) {
        Panache.getEntityManager().flush();
        Panache.getEntityManager()
                .createNativeQuery("INSERT INTO host_device_claims (host_id, device, vm_id) VALUES (?1, ?2, ?3)")
                .setParameter(1, hostId).setParameter(2, device).setParameter(3, vmId).executeUpdate();
    }

    /** Takes the device back from the VM (nothing if the VM does not hold it). */
    @Transactional
    public void release(String hostId, String device, String vmId) {
        Panache.getEntityManager()
                .createNativeQuery("DELETE FROM host_device_claims WHERE host_id = ?1 AND device = ?2 AND vm_id = ?3")
                .setParameter(1, hostId).setParameter(2, device).setParameter(3, vmId).executeUpdate();
    }

    /** The devices of the host the VM holds. */
    @Transactional
    public List<String> heldBy(String hostId, String vmId) {
        return Panache.getEntityManager()
                .createNativeQuery("SELECT device FROM host_device_claims WHERE host_id = ?1 AND vm_id = ?2 ORDER BY device")
                .setParameter(1, hostId).setParameter(2, vmId).getResultList().stream().map(Object::toString).toList();
    }

    /** Every device of the host given to a VM, with the id of that VM. */
    @Transactional
    public Map<String, String> all(String hostId) {
        Map<String, String> given = new LinkedHashMap<>();
        for (Object row : Panache.getEntityManager()
                .createNativeQuery("SELECT device, vm_id FROM host_device_claims WHERE host_id = ?1 ORDER BY device")
                .setParameter(1, hostId).getResultList()) {
            Object[] columns = (Object[]) row;
            given.put(columns[0].toString(), columns[1].toString());
        }
        return given;
    }

    /** The VMs of the host that hold a device. */
    @Transactional
    public List<String> holders(String hostId) {
        return Panache.getEntityManager()
                .createNativeQuery("SELECT DISTINCT vm_id FROM host_device_claims WHERE host_id = ?1 ORDER BY vm_id")
                .setParameter(1, hostId).getResultList().stream().map(Object::toString).toList();
    }
}
