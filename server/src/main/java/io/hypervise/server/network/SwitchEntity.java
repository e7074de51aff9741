package io.hypervise.server.network;

import io.hypervise.engine.network.HostAddress;
import io.hypervise.engine.network.SwitchKind;
import io.hypervise.engine.network.VirtualSwitch;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.Optional;

/** A virtual switch as the inventory keeps it; the engine's bridge is made from this at every start. */
@Entity
@Table(name = "switches")
public class SwitchEntity extends PanacheEntityBase {

    @Id
    public String id;
    @Column(name = "host_id")
    public String hostId;
    public String name;
    /** private or internal ({@link SwitchKind#label()}). */
    public String kind;
    @Column(name = "host_address")
    public String hostAddress;
    @Column(name = "created_at")
    public Instant createdAt;

    /** What the engine is asked to make. */
    public VirtualSwitch toEngine() {
        return new VirtualSwitch(id, SwitchKind.of(kind).orElseThrow(),
                Optional.ofNullable(hostAddress).map(HostAddress::parse));
    }
}
