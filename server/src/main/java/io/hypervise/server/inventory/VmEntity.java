package io.hypervise.server.inventory;

import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.definition.CdRom;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Embedded;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.hibernate.Hibernate;
import org.hibernate.annotations.BatchSize;
import org.hibernate.annotations.DynamicUpdate;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/**
 * A VM's definition as the inventory keeps it (the source of truth that survives the host), with the
 * last state the engine reported. Only changed columns are written, so a state update from the engine
 * and a settings change never overwrite each other's columns.
 */
@Entity
@Table(name = "vms")
@DynamicUpdate
public class VmEntity extends PanacheEntityBase {

    @Id
    public String id;
    @Column(name = "host_id")
    public String hostId;
    @Column(name = "template_id")
    public String templateId;
    public String name;
    public String owner;
    /** The owner's Keycloak groups when the VM was created: what its quota use counts toward. */
    @Column(name = "owner_groups")
    @JdbcTypeCode(SqlTypes.ARRAY)
    public String[] ownerGroups = new String[0];
    public int vcpus;
    @Column(name = "memory_mib")
    public int memoryMib;
    /** The most vCPUs it may have while it runs; null: its vcpus. */
    @Column(name = "max_vcpus")
    public Integer maxVcpus;
    /** The most memory it may have while it runs; null: its memoryMib. */
    @Column(name = "max_memory_mib")
    public Integer maxMemoryMib;
    /** The DIMMs added while it ran, in MiB, in the order added: part of memoryMib. */
    @Column(name = "memory_dimms_mib")
    @JdbcTypeCode(SqlTypes.ARRAY)
    public Integer[] memoryDimmsMib = new Integer[0];
    @Enumerated(EnumType.STRING)
    public DeviceProfile profile;
    @Enumerated(EnumType.STRING)
    public Firmware firmware = Firmware.BIOS;
    @Enumerated(EnumType.STRING)
    public Display display;
    @Embedded
    public BootColumns boot;
    /** Null when Hibernate finds every column of it null: no controls. */
    @Embedded
    public ResourceColumns resources;
    /** The library ISO in the VM's CD-ROM now, if it came from the library (at first: the ISO it booted from). */
    @Column(name = "boot_library_item_id")
    public String bootLibraryItemId;
    /** Whether the VM has a CD-ROM drive. */
    @Column(name = "cdrom_drive")
    public boolean cdromDrive;
    /** The ISO image in the drive; null when it is empty (or there is none). */
    @Column(name = "cdrom_image")
    public String cdromImage;
    @Enumerated(EnumType.STRING)
    public VmState state = VmState.OFF;
    @Column(name = "state_reason")
    public String stateReason;
    @Column(name = "state_since")
    public Instant stateSince;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    /** A creation or deletion begun and not yet ended (see {@link Pending}); null for a settled VM. */
    @Enumerated(EnumType.STRING)
    public Pending pending;
    /** The checkpoint the VM's present state descends from; null before the first one, or after it is deleted. */
    @Column(name = "current_checkpoint_id")
    public String currentCheckpointId;
    @Column(name = "lease_expires_at")
    public Instant leaseExpiresAt;
    @Column(name = "lease_warned_at")
    public Instant leaseWarnedAt;
    @Column(name = "lease_stopped_at")
    public Instant leaseStoppedAt;
    @Version
    public long version;
    // Loaded for a page of VMs at once (one query for all their disks), never one query per VM.
    @OneToMany(mappedBy = "vm", cascade = CascadeType.ALL, orphanRemoval = true)
    @OrderBy("position")
    @BatchSize(size = 500)
    public List<DiskEntity> disks = new ArrayList<>();
    @OneToMany(mappedBy = "vm", cascade = CascadeType.ALL, orphanRemoval = true)
    @OrderBy("position")
    @BatchSize(size = 500)
    public List<NicEntity> nics = new ArrayList<>();

    /** What a VM's row says is under way: written before the engine acts, cleared when it is done. */
    public enum Pending { CREATING, DELETING, STORING, EXPORTING }

    /** A state's reason as a row keeps it: at most 1,000 characters. */
    public static String reason(String reason) {
        return reason == null || reason.length() <= 1000 ? reason : reason.substring(0, 997) + "...";
    }

    /** Loads the disks and adapters, so the entity can be read after its transaction. */
    public VmEntity loaded() {
        Hibernate.initialize(disks);
        Hibernate.initialize(nics);
        return this;
    }

    public VmDefinition toDefinition() {
        List<Disk> diskList = disks.stream().map(d -> new Disk(Path.of(d.path), d.format, d.readOnly,
                d.backingPath == null ? null : new Disk.Backing(Path.of(d.backingPath), d.backingFormat), d.nodeName, d.hostDevice))
                .toList();
        List<Nic> nicList = nics.stream().map(n -> new Nic(n.mac, n.switchId, n.vlan, n.nodeName)).toList();
        return new VmDefinition(id, name, vcpus, memoryMib, profile, diskList, nicList, boot.toBootSource(), display,
                firmware, resources == null ? Resources.NONE : resources.toResources(),
                cdromDrive ? new CdRom(cdromImage == null ? null : Path.of(cdromImage)) : null, maxVcpus, maxMemoryMib,
                List.of(memoryDimmsMib));
    }

    /** A new row for a definition the engine has accepted (its paths are absolute and checked). */
    public static VmEntity of(VmDefinition def, String owner, String hostId, Instant now) {
        VmEntity vm = new VmEntity();
        vm.id = def.id();
        vm.hostId = hostId;
        vm.owner = owner;
        vm.createdAt = now;
        vm.updatedAt = now;
        vm.stateSince = now;
        vm.stateReason = "created";
        vm.apply(def);
        return vm;
    }

    /** Takes the settings that a reconfiguration may change (disks are not among them). */
    public void applySettings(VmDefinition def) {
        name = def.name();
        applySize(def);
        profile = def.profile();
        display = def.display();
        applyNics(def.nics());
    }

    /** Takes the engine's vCPUs and memory, their maximums and the DIMMs added while the VM ran. */
    public void applySize(VmDefinition def) {
        vcpus = def.vcpus();
        memoryMib = def.memoryMib();
        maxVcpus = def.maxVcpus();
        maxMemoryMib = def.maxMemoryMib();
        memoryDimmsMib = def.memoryDimmsMib().toArray(Integer[]::new);
    }

    /**
     * Brings the adapters' rows to the definition's, position by position, updating rows in place: a
     * delete and re-insert of the same MAC in one flush would break the MAC's uniqueness (Hibernate
     * inserts before it deletes).
     */
    private void applyNics(List<Nic> wanted) {
        for (int i = 0; i < wanted.size(); i++) {
            NicEntity n;
            if (i < nics.size()) {
                n = nics.get(i);
            } else {
                n = new NicEntity();
                n.vm = this;
                n.position = (short) i;
                nics.add(n);
            }
            n.mac = wanted.get(i).mac();
            n.switchId = wanted.get(i).switchId();
            n.vlan = wanted.get(i).vlan();
            n.nodeName = wanted.get(i).node();
        }
        while (nics.size() > wanted.size()) {
            nics.removeLast();
        }
    }

    private void apply(VmDefinition def) {
        applySettings(def);
        boot = BootColumns.of(def.boot());
        applyCdRom(def.cdrom());
        firmware = def.firmware();
        resources = ResourceColumns.of(def.resources());
        disks.clear();
        for (int i = 0; i < def.disks().size(); i++) {
            Disk d = def.disks().get(i);
            DiskEntity e = new DiskEntity();
            e.vm = this;
            e.position = (short) i;
            e.path = d.path().toString();
            e.format = d.format();
            e.readOnly = d.readOnly();
            if (d.backing() != null) {
                e.backingPath = d.backing().path().toString();
                e.backingFormat = d.backing().format();
            }
            e.nodeName = d.node();
            e.hostDevice = d.hostDevice();
            disks.add(e);
        }
    }

    /** Takes the engine's CD-ROM drive (null: none); which library item is in it is the caller's to set. */
    public void applyCdRom(CdRom cdrom) {
        cdromDrive = cdrom != null;
        cdromImage = cdrom == null || cdrom.isEmpty() ? null : cdrom.medium().toString();
    }

    /**
     * Brings the disks' rows to the engine's list after a disk was added or removed, in the caller's
     * transaction: each image keeps its recorded size and library origin; the new one takes {@code addedBytes}
     * and {@code addedItem}. The old rows go first (flushed), so that no position or writable image is held by
     * two rows on the way.
     */
    public void applyDisks(List<Disk> wanted, Long addedBytes, String addedItem) {
        java.util.Map<String, DiskEntity> before = new java.util.HashMap<>();
        disks.forEach(d -> before.put(d.path, d));
        disks.clear();
        getEntityManager().flush();
        for (int i = 0; i < wanted.size(); i++) {
            Disk d = wanted.get(i);
            DiskEntity old = before.get(d.path().toString());
            DiskEntity e = new DiskEntity();
            e.vm = this;
            e.position = (short) i;
            e.path = d.path().toString();
            e.format = d.format();
            e.readOnly = d.readOnly();
            e.backingPath = d.backing() == null ? null : d.backing().path().toString();
            e.backingFormat = d.backing() == null ? null : d.backing().format();
            e.nodeName = d.node();
            e.hostDevice = d.hostDevice();
            e.sizeBytes = old != null ? old.sizeBytes : addedBytes;
            e.libraryItemId = old != null ? old.libraryItemId : addedItem;
            disks.add(e);
        }
    }

    /**
     * Replaces the adapters' rows with the definition's after one was added or removed: the old rows are
     * deleted first, since an adapter that moves up a position keeps its MAC, which is unique.
     */
    public void replaceNics(List<Nic> wanted) {
        nics.clear();
        getEntityManager().flush();
        for (int i = 0; i < wanted.size(); i++) {
            Nic nic = wanted.get(i);
            NicEntity n = new NicEntity();
            n.vm = this;
            n.position = (short) i;
            n.mac = nic.mac();
            n.switchId = nic.switchId();
            n.vlan = nic.vlan();
            n.nodeName = nic.node();
            nics.add(n);
        }
    }
}
