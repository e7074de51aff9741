package io.hypervise.server.template;

import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.server.inventory.BootColumns;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import io.hypervise.engine.vm.definition.Firmware;
import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.FetchType;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import java.util.ArrayList;
import java.util.List;
import jakarta.persistence.Embedded;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;

/** What VMs are deployed from: a boot source and the settings a new VM starts with. */
@Entity
@Table(name = "templates")
public class TemplateEntity extends PanacheEntityBase {

    @Id
    public String id;
    public String name;
    public String description;
    public int vcpus;
    @Column(name = "memory_mib")
    public int memoryMib;
    @Enumerated(EnumType.STRING)
    public DeviceProfile profile;
    @Enumerated(EnumType.STRING)
    public Display display;
    @Embedded
    public BootColumns boot;
    @Enumerated(EnumType.STRING)
    public Firmware firmware = Firmware.BIOS;
    /** Who made it; null for the built-in ones. */
    public String owner;
    /** The library disk images a VM from it gets linked clones of, in order. */
    @OneToMany(mappedBy = "template", cascade = CascadeType.ALL, orphanRemoval = true, fetch = FetchType.EAGER)
    @OrderBy("position")
    public List<TemplateDiskEntity> disks = new ArrayList<>();
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;
}
