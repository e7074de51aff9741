package io.hypervise.server.library;

import io.hypervise.engine.storage.ImageFormat;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/** An ISO or disk image in the library; its file is {@code file} under the library folder of host {@code hostId}. */
@Entity
@Table(name = "library_items")
public class LibraryItemEntity extends PanacheEntityBase {

    @Id
    public String id;
    @Column(name = "host_id")
    public String hostId;
    public String name;
    public String description = "";
    @Enumerated(EnumType.STRING)
    public ItemKind kind;
    /** What VMs open it as: raw (ISOs too) or qcow2. */
    @Enumerated(EnumType.STRING)
    public DiskFormat format;
    /** What it came into the library as. */
    @Enumerated(EnumType.STRING)
    @Column(name = "source_format")
    public ImageFormat sourceFormat;
    @Column(name = "virtual_bytes")
    public long virtualBytes;
    @Column(name = "actual_bytes")
    public long actualBytes;
    public String sha256;
    public String owner;
    @Enumerated(EnumType.STRING)
    public Visibility visibility;
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] groups = new String[0];
    /** Relative to the library folder. */
    public String file;
    @Column(name = "created_at")
    public Instant createdAt;
}
