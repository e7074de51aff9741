package io.hypervise.server.jobs;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.UUID;

/** A long operation as PostgreSQL keeps it, so its outcome can be followed and outlives a restart. */
@Entity
@Table(name = "jobs")
public class JobEntity extends PanacheEntityBase {

    public enum State { QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED }

    @Id
    public UUID id;
    public String kind;
    @Column(name = "vm_id")
    public String vmId;
    public String actor;
    /** The host whose server runs the job. */
    @Column(name = "host_id")
    public String hostId;
    /** What a job that is not a VM's works on, such as {@code library:lib-…}. */
    public String target;
    @Enumerated(EnumType.STRING)
    public State state;
    public short progress;
    public String error;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
}
