package io.hypervise.server.template;

import io.hypervise.engine.vm.DeviceProfile;
import io.hypervise.engine.vm.Display;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
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
    @Column(name = "boot_kind")
    public String bootKind;
    @Column(name = "boot_kernel")
    public String bootKernel;
    @Column(name = "boot_initramfs")
    public String bootInitramfs;
    @Column(name = "boot_command_line")
    public String bootCommandLine;
    @Column(name = "boot_image")
    public String bootImage;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;
}
