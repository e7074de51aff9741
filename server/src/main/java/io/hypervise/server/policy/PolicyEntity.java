package io.hypervise.server.policy;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import io.hypervise.server.inventory.ResourceColumns;
import jakarta.persistence.Column;
import jakarta.persistence.Embedded;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/** A self-service policy as PostgreSQL keeps it; a null setting is "not configured". */
@Entity
@Table(name = "policies")
public class PolicyEntity extends PanacheEntityBase {

    @Id
    public String id;
    public String name;
    public String description;
    public int precedence;
    public boolean enforced;
    @Column(name = "assigned_groups")
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] assignedGroups = new String[0];
    @Column(name = "assigned_users")
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] assignedUsers = new String[0];
    @Column(name = "host_groups")
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] hostGroups;
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] templates;
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] actions;
    /** The virtual switches its users may plug adapters into; null: not configured. */
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] switches;
    @Column(name = "max_vms")
    public Integer maxVms;
    @Column(name = "max_vcpus")
    public Integer maxVcpus;
    @Column(name = "max_memory_mib")
    public Long maxMemoryMib;
    @Column(name = "max_disk_mib")
    public Long maxDiskMib;
    @Column(name = "max_vm_vcpus")
    public Integer maxVmVcpus;
    @Column(name = "max_vm_memory_mib")
    public Long maxVmMemoryMib;
    @Column(name = "max_vm_disk_mib")
    public Long maxVmDiskMib;
    @Column(name = "lease_days")
    public Integer leaseDays;
    /** The library items its users may deploy VMs from; null: not configured. */
    @Column(name = "library_items")
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] libraryItems;
    /** How much its users may keep in the library, uploads under way included. */
    @Column(name = "max_library_mib")
    public Long maxLibraryMib;
    /** The resource controls every VM its users create gets; null (every column null) when it imposes none. */
    @Embedded
    public ResourceColumns vmResources;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;

    /** How the policy applies to a user with these groups, or null when it does not. */
    AppliedPolicy appliedTo(String username, Set<String> groups) {
        boolean direct = Arrays.asList(assignedUsers).contains(username);
        if (!direct && Arrays.stream(assignedGroups).noneMatch(groups::contains)) {
            return null;
        }
        return new AppliedPolicy(id, name, precedence, enforced, direct, settings());
    }

    PolicySettings settings() {
        return new PolicySettings(set(hostGroups), set(templates),
                actions == null ? null : Arrays.stream(actions).map(a -> SelfServiceAction.of(a).orElseThrow())
                        .collect(Collectors.toCollection(LinkedHashSet::new)),
                maxVms, maxVcpus, maxMemoryMib, maxDiskMib, maxVmVcpus, maxVmMemoryMib, maxVmDiskMib, leaseDays, set(switches),
                set(libraryItems), maxLibraryMib, vmResources == null ? null : vmResources.toResources());
    }

    private static Set<String> set(String[] values) {
        return values == null ? null : new LinkedHashSet<>(Arrays.asList(values));
    }
}
