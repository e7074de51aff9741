package io.hypervise.server.inventory;

import io.hypervise.engine.vm.definition.Resources;
import jakarta.persistence.Column;
import jakarta.persistence.Embeddable;
import java.util.LinkedHashMap;
import java.util.Map;

/** A VM's resource controls, as the vms table keeps them; a null column is a control not set. */
@Embeddable
public class ResourceColumns {

    @Column(name = "cpu_weight")
    public Integer cpuWeight;
    @Column(name = "cpu_cap_percent")
    public Integer cpuCapPercent;
    @Column(name = "memory_reservation_mib")
    public Integer memoryReservationMib;
    @Column(name = "balloon_target_mib")
    public Integer balloonTargetMib;
    @Column(name = "disk_bytes_per_second")
    public Long diskBytesPerSecond;
    @Column(name = "disk_iops")
    public Integer diskIops;
    @Column(name = "network_receive_bits_per_second")
    public Long networkReceiveBitsPerSecond;
    @Column(name = "network_transmit_bits_per_second")
    public Long networkTransmitBitsPerSecond;

    public static ResourceColumns of(Resources r) {
        ResourceColumns c = new ResourceColumns();
        c.cpuWeight = r.cpuWeight();
        c.cpuCapPercent = r.cpuCapPercent();
        c.memoryReservationMib = r.memoryReservationMib();
        c.balloonTargetMib = r.balloonTargetMib();
        c.diskBytesPerSecond = r.diskBytesPerSecond();
        c.diskIops = r.diskIops();
        c.networkReceiveBitsPerSecond = r.networkReceiveBitsPerSecond();
        c.networkTransmitBitsPerSecond = r.networkTransmitBitsPerSecond();
        return c;
    }

    /** The controls that are set, by name, for the audit log and the logs: empty when there are none. */
    public static Map<String, Object> describe(Resources r) {
        Map<String, Object> set = new LinkedHashMap<>();
        putIfSet(set, "cpuWeight", r.cpuWeight());
        putIfSet(set, "cpuCapPercent", r.cpuCapPercent());
        putIfSet(set, "memoryReservationMib", r.memoryReservationMib());
        putIfSet(set, "balloonTargetMib", r.balloonTargetMib());
        putIfSet(set, "diskBytesPerSecond", r.diskBytesPerSecond());
        putIfSet(set, "diskIops", r.diskIops());
        putIfSet(set, "networkReceiveBitsPerSecond", r.networkReceiveBitsPerSecond());
        putIfSet(set, "networkTransmitBitsPerSecond", r.networkTransmitBitsPerSecond());
        return set;
    }

    private static void putIfSet(Map<String, Object> map, String key, Object value) {
        if (value != null) {
            map.put(key, value);
        }
    }

    public Resources toResources() {
        return new Resources(cpuWeight, cpuCapPercent, memoryReservationMib, balloonTargetMib, diskBytesPerSecond, diskIops,
                networkReceiveBitsPerSecond, networkTransmitBitsPerSecond);
    }
}
