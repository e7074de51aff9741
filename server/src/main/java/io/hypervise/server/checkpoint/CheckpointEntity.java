package io.hypervise.server.checkpoint;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/** A checkpoint of a VM: a qcow2 internal snapshot tagged with its id in each of the VM's writable disks. */
@Entity
@Table(name = "checkpoints")
public class CheckpointEntity extends PanacheEntityBase {

    @Id
    public String id;
    @Column(name = "vm_id")
    public String vmId;
    /** The checkpoint the VM was at when this one was taken; null for a root of the tree. */
    @Column(name = "parent_id")
    public String parentId;
    public String name;
    /** Whether it holds the VM's memory and device state (taken while it ran) or its disks only. */
    public boolean memory;
    /** What it added to the VM's disk files when it was taken: what it counts in its owner's disk quota. */
    @Column(name = "size_bytes")
    public long sizeBytes;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "created_by")
    public String createdBy;
    @Enumerated(EnumType.STRING)
    public Pending pending;

    /** What is under way: written before the engine acts, cleared when it is done. */
    public enum Pending { TAKING, DELETING }
}
