package io.hypervise.server.template;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;
import java.io.Serializable;
import java.util.Objects;

/** A template's disk: a library disk image that each VM from the template gets a linked clone of. */
@Entity
@Table(name = "template_disks")
@IdClass(TemplateDiskEntity.Key.class)
public class TemplateDiskEntity extends PanacheEntityBase {

    @Id
    @ManyToOne(optional = false)
    @JoinColumn(name = "template_id")
    public TemplateEntity template;
    @Id
    public short position;
    @Column(name = "library_item_id")
    public String libraryItemId;

    public static class Key implements Serializable {
        public String template;
        public short position;

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Objects.equals(template, k.template) && position == k.position;
        }

        @Override
        public int hashCode() {
            return Objects.hash(template, position);
        }
    }
}
