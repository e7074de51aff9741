package io.hypervise.server.inventory;

import io.hypervise.engine.host.Accelerator;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;

/** A host this server runs VMs on: today the one it runs on. */
@Entity
@Table(name = "hosts")
public class HostEntity extends PanacheEntityBase {

    @Id
    public String id;
    public String name;
    public String hostname;
    @Column(name = "host_group")
    public String hostGroup = "default";
    @Enumerated(EnumType.STRING)
    public Accelerator accelerator;
    public int cpus;
    @Column(name = "memory_bytes")
    public long memoryBytes;
    @Column(name = "qemu_version")
    public String qemuVersion;
    @Column(name = "last_seen_at")
    public Instant lastSeenAt;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;
}
