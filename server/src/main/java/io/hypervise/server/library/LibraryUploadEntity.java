package io.hypervise.server.library;

import io.hypervise.engine.storage.ImageFormat;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.UUID;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/**
 * An upload under way. The bytes received so far are its part file's length, not a column: the file is
 * the truth after a dropped connection or a crash, and a column could only lag behind it.
 */
@Entity
@Table(name = "library_uploads")
public class LibraryUploadEntity extends PanacheEntityBase {

    public enum State { RECEIVING, IMPORTING }

    @Id
    public String id;
    @Column(name = "host_id")
    public String hostId;
    @Column(name = "item_id")
    public String itemId;
    public String owner;
    public String name;
    public String description = "";
    @Enumerated(EnumType.STRING)
    public ItemKind kind;
    @Enumerated(EnumType.STRING)
    @Column(name = "declared_format")
    public ImageFormat declaredFormat;
    @Column(name = "expected_sha256")
    public String expectedSha256;
    @Enumerated(EnumType.STRING)
    public Visibility visibility;
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] groups = new String[0];
    public long length;
    @Enumerated(EnumType.STRING)
    public State state;
    @Column(name = "job_id")
    public UUID jobId;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "touched_at")
    public Instant touchedAt;
}
