package io.hypervise.server.inventory;

import io.hypervise.engine.vm.definition.DiskFormat;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;

@Entity
@Table(name = "disks")
public class DiskEntity extends PanacheEntityBase {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;
    @ManyToOne(optional = false)
    @JoinColumn(name = "vm_id")
    public VmEntity vm;
    public short position;
    public String path;
    @Enumerated(EnumType.STRING)
    public DiskFormat format;
    @Column(name = "read_only")
    public boolean readOnly;
    @Column(name = "size_bytes")
    public Long sizeBytes;
    /** The library item the disk was made from: a linked clone's base (read for as long as the disk exists), or a copy's source. */
    @Column(name = "library_item_id")
    public String libraryItemId;
    /** A linked clone's base image and its format, as the engine opens it. */
    @Column(name = "backing_path")
    public String backingPath;
    @Enumerated(EnumType.STRING)
    @Column(name = "backing_format")
    public DiskFormat backingFormat;
    /** The name QEMU knows the disk by when it differs from disk&lt;position&gt; (a disk added while the VM ran). */
    @Column(name = "node_name")
    public String nodeName;
    /** A whole host block device passed through (its path the device's node under /dev), not an image. */
    @Column(name = "host_device")
    public boolean hostDevice;
}
