package io.hypervise.server.template;

import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.server.inventory.BootColumns;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
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
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;
}
