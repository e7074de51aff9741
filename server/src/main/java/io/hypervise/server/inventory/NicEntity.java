package io.hypervise.server.inventory;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;

@Entity
@Table(name = "nics")
public class NicEntity extends PanacheEntityBase {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;
    @ManyToOne(optional = false)
    @JoinColumn(name = "vm_id")
    public VmEntity vm;
    public short position;
    public String mac;
    /** The virtual switch it is plugged into; null for the VM's isolated user-mode network. */
    @Column(name = "switch_id")
    public String switchId;
    /** The switch's VLAN it is on; null for the switch's default. */
    public Integer vlan;
    /** The name QEMU knows it by (net<k>) when it was added while the VM ran; null: net<position>. */
    @Column(name = "node_name")
    public String nodeName;
}
