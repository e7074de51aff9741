package io.hypervise.engine.vm;

import io.hypervise.engine.EngineSettings;
import io.hypervise.engine.display.VmDisplay;
import io.hypervise.engine.network.NetworkException;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.host.UefiFirmware;
import io.hypervise.engine.qmp.QemuMonitor;
import io.hypervise.engine.qmp.QmpException;
import io.hypervise.engine.storage.DiskImages;
import io.hypervise.engine.storage.NewImage;
import io.hypervise.engine.storage.StorageRoot;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.CdRom;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import io.hypervise.engine.vm.definition.ResourceSupport;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.Violation;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.definition.VmDefinitionValidator;
import io.hypervise.engine.vm.worker.LogTail;
import io.hypervise.engine.vm.worker.QemuCommandLine;
import io.hypervise.engine.vm.worker.RunningWorker;
import io.hypervise.engine.vm.worker.VmFiles;
import io.hypervise.engine.vm.worker.Worker;
import io.hypervise.engine.vm.worker.WorkerCgroups;
import io.hypervise.engine.vm.worker.WorkerExit;
import io.hypervise.engine.vm.worker.WorkerJail;
import io.hypervise.engine.vm.worker.WorkerPhase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.stream.Collectors;

/**
 * The engine's VM service (the source chapter's VMMS): defines VMs, runs one worker per VM, carries
 * out lifecycle actions through the state machine, and re-attaches to running workers when it starts.
 *
 * <p>Each VM has a lock that its actions hold while they change its state; listing and reading status
 * never take it, so a worker that stops answering can slow only the actions on its own VM, and only up
 * to the command timeout. Once a command has timed out, the VM shows as unresponsive and every action
 * but turning off is refused at once, until the worker answers again (see {@link Unresponsive}).
 */
public final class Vms implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(Vms.class.getName());

    private final EngineSettings settings;
    private final String hostname;
    private final StorageRoot storage;
    private final VmDefinitionValidator validator;
    private final VmStore store;
    private final Clock clock;
    private final WorkerSupervisor supervisor;
    private final SavedStates savedStates;
    private final Checkpoints checkpoints;
    private final Migrations migrations;
    /** VMs arriving live from another host, until they are handed over or abandoned. */
    private final java.util.Set<String> incoming = ConcurrentHashMap.newKeySet();
    private final DiskImages images;
    private final Optional<UefiFirmware> uefi;
    private final WorkerCgroups cgroups;
    private final ResourceSupport resourceSupport;
    private final WorkerJail jail;
    private final VirtualSwitches switches;
    private final Map<String, ManagedVm> vms = new ConcurrentHashMap<>();
    private final List<Consumer<VmEvent>> listeners = new CopyOnWriteArrayList<>();

    /**
     * @param hostname the host's name, for the log lines an operator of many hosts reads
     * @param uefi     the host's UEFI firmware, if it has one; UEFI VMs are refused without it
     */
    public Vms(EngineSettings settings, String hostname, StorageRoot storage, QemuCommandLine commandLine,
            Optional<UefiFirmware> uefi, DiskImages images, VirtualSwitches switches, WorkerCgroups cgroups, WorkerJail jail,
            Clock clock) {
        this.settings = settings;
        this.hostname = hostname;
        this.images = images;
        this.storage = storage;
        this.uefi = uefi;
        this.resourceSupport = cgroups.support().withNetwork(switches.receiveLimitUnavailable(),
                switches.transmitLimitUnavailable());
        this.validator = new VmDefinitionValidator(storage, uefi.isPresent(), resourceSupport);
        this.cgroups = cgroups;
        this.jail = jail;
        this.switches = switches;
        this.store = new VmStore(settings.stateDir());
        this.clock = clock;
        this.supervisor = new WorkerSupervisor(settings, commandLine, validator, uefi, store, this::resolve, switches,
                cgroups, jail, id -> images.folderOf(id).toString(), clock);
        this.savedStates = new SavedStates(settings, supervisor, store, clock);
        this.checkpoints = new Checkpoints(settings, supervisor, images);
        this.migrations = new Migrations(supervisor);
    }

    /** Loads every VM under the state directory and re-attaches to the workers that still run. */
    public void recover() {
        for (VmFiles files : store.all()) {
            Optional<VmDefinition> def = store.readDefinition(files);
            if (def.isEmpty()) {
                LOG.log(Level.WARNING, "ignoring {0}: it has no definition.json", files.dir());
                continue;
            }
            ManagedVm vm = manage(def.get(), files);
            vms.put(vm.id(), vm);
            vm.lock().lock();
            try {
                supervisor.reattach(vm);
            } finally {
                vm.lock().unlock();
            }
        }
        cgroups.removeStale(vms.values().stream().filter(vm -> vm.worker() != null).map(ManagedVm::id)
                .collect(Collectors.toSet()));
    }

    /** Why the host block device may not be given to a VM whole (see {@code HostBlockDevices}), or empty when it may. */
    public Optional<String> hostDeviceProblem(Path device) {
        return validator.hostDeviceProblem(device);
    }

    /** Which resource controls this host can enforce, and why not the others. */
    public ResourceSupport resourceSupport() {
        return resourceSupport;
    }

    /** How this host's workers are confined, and what it lacks to confine them. */
    public WorkerJail.Status confinement() {
        return jail.status();
    }

    /** The cgroup version CPU controls use here ("v2", "v1"), if any. */
    public Optional<String> cgroupVersion() {
        return cgroups.cpuVersion();
    }

    /**
     * Sets the VM's resource controls, in any state but a transitional one: at once on its running worker (its
     * cgroup's CPU weight and cap and memory reservation, its disks' throttle group, its balloon, the bandwidth of
     * each of its switch ports), and in its
     * definition for every later start. Refused, with the VM unchanged, when a value breaks a rule or this host
     * cannot enforce it; if the worker refuses part-way, what was applied is put back.
     */
    public VmStatus changeResources(String id, Resources resources) {
        return act(id, VmAction.CHANGE_RESOURCES, vm -> {
            VmDefinition before = vm.definition();
            VmDefinition after = before.withResources(resources);
            List<Violation> problems = validator.violations(after).stream()
                    .filter(p -> p.field().startsWith("resources")).toList();
            if (!problems.isEmpty()) {
                throw new InvalidVmDefinitionException(problems);
            }
            Worker worker = vm.worker();
            if (worker != null) {
                try {
                    supervisor.applyResources(vm, worker, after, before.resources());
                } catch (VmOperationException e) {
                    try {
                        supervisor.applyResources(vm, worker, before, after.resources());
                    } catch (VmOperationException again) {
                        e.addSuppressed(again);
                    }
                    throw e;
                }
            }
            store.writeDefinition(vm.files(), after);
            vm.redefine(after);
            vm.log("resource controls changed to " + resources);
        });
    }

    public void addListener(Consumer<VmEvent> listener) {
        listeners.add(listener);
    }

    // ---------------------------------------------------------------- definitions

    public VmStatus define(VmDefinition definition) {
        VmDefinition def = absolutePaths(definition);
        ManagedVm vm = manage(def, store.filesOf(def.id()));
        if (vms.putIfAbsent(def.id(), vm) != null) {
            throw new VmAlreadyExistsException(def.id());
        }
        try {
            store.create(vm.files());
            if (def.firmware() == Firmware.UEFI) {
                store.ensureUefiVariables(vm.files(), uefi.orElseThrow());
            }
            store.writeDefinition(vm.files(), def);
            store.writeState(vm.files(), new StateRecord(vm.state(), vm.since()));
        } catch (IOException | UncheckedIOException e) {
            vms.remove(def.id());
            throw new VmOperationException("cannot store the definition of VM '" + def.name() + "': " + e.getMessage(), e);
        }
        vm.log("defined");
        return vm.status();
    }

    /**
     * The definition {@link #define(VmDefinition, Map, LongConsumer)} would store for this one: checked,
     * with absolute paths, and each new image's position given the path of the image that would be made
     * for it (a linked clone's with its base). Nothing is created; the server records this before it asks
     * the engine to define the VM.
     */
    public VmDefinition plan(VmDefinition definition, Map<Integer, NewImage> newImages) {
        List<Violation> violations = validator.violations(definition).stream()
                .filter(v -> newImages.keySet().stream().noneMatch(i -> v.field().equals("disks[" + i + "].path")))
                .toList();
        if (!violations.isEmpty()) {
            throw new InvalidVmDefinitionException(violations);
        }
        List<Violation> bases = new ArrayList<>();
        List<Disk> disks = new ArrayList<>();
        for (int i = 0; i < definition.disks().size(); i++) {
            Disk disk = definition.disks().get(i);
            NewImage image = newImages.get(i);
            String field = "disks[" + i + "]";
            disks.add(switch (image) {
                case null -> absolute(disk);
                case NewImage.Blank b -> new Disk(images.pathFor(definition.id(), i, disk.format()), disk.format(), false);
                case NewImage.Seed s -> new Disk(images.pathFor(definition.id(), i, DiskFormat.RAW), DiskFormat.RAW, false);
                case NewImage.Copy c -> {
                    validator.imageProblem(c.source(), c.sourceFormat())
                            .ifPresent(why -> bases.add(new Violation(field + ".source", why)));
                    yield new Disk(images.pathFor(definition.id(), i, disk.format()), disk.format(), false);
                }
                case NewImage.Adopt a -> {
                    validator.imageProblem(a.file(), a.format())
                            .ifPresent(why -> bases.add(new Violation(field + ".file", why)));
                    yield new Disk(images.pathFor(definition.id(), i, a.format()), a.format(), disk.readOnly());
                }
                case NewImage.LinkedClone l -> {
                    validator.imageProblem(l.base(), l.baseFormat())
                            .ifPresent(why -> bases.add(new Violation(field + ".base", why)));
                    yield new Disk(images.pathFor(definition.id(), i, DiskFormat.QCOW2), DiskFormat.QCOW2, false,
                            new Disk.Backing(resolve(l.base()), l.baseFormat()));
                }
            });
        }
        if (!bases.isEmpty()) {
            throw new InvalidVmDefinitionException(bases);
        }
        return new VmDefinition(definition.id(), definition.name(), definition.vcpus(), definition.memoryMib(),
                definition.profile(), disks, definition.nics(), absoluteBoot(definition), definition.display(),
                definition.firmware(), definition.resources(), absolute(definition.cdrom()), definition.maxVcpus(),
                definition.maxMemoryMib(), definition.memoryDimmsMib());
    }

    /** {@link #define(VmDefinition, Map, LongConsumer)} with blank disks of the given sizes only. */
    public VmStatus define(VmDefinition definition, Map<Integer, Long> blankDiskBytes) {
        return define(definition, NewImage.blanks(blankDiskBytes), percent -> { });
    }

    /**
     * Defines a VM with images made for it: each position in {@code newImages} is a disk whose path is
     * left null in the definition, and becomes a new image in the VM's own folder ({@link DiskImages}):
     * blank, a linked clone of a base image, or a full copy (whose progress, in percent, {@code progress}
     * hears). Nothing is created unless the rest of the definition is valid, and nothing is left behind
     * when defining fails.
     */
    public VmStatus define(VmDefinition definition, Map<Integer, NewImage> newImages, LongConsumer progress) {
        if (newImages.isEmpty()) {
            return define(definition);
        }
        VmDefinition planned = plan(definition, newImages);
        if (vms.containsKey(definition.id())) {
            throw new VmAlreadyExistsException(definition.id());
        }
        List<Path> created = new ArrayList<>();
        try {
            for (Map.Entry<Integer, NewImage> entry : new TreeMap<>(newImages).entrySet()) {
                Disk disk = planned.disks().get(entry.getKey());
                created.add(disk.path());
                make(disk, entry.getValue(), progress);
            }
            VmStatus defined = define(planned);
            LOG.log(Level.INFO, "VM {0}: made disk image(s) {1}", new Object[] {definition.id(), created});
            return defined;
        } catch (IOException | RuntimeException e) {
            throw withoutCreatedImages(definition, created, e);
        }
    }

    /** Makes a new image as {@code disk} (its path, format and base planned) from what {@code image} says. */
    private void make(Disk disk, NewImage image, LongConsumer progress) throws IOException {
        switch (image) {
            case NewImage.Blank b -> images.create(disk.path(), disk.format(), b.bytes());
            case NewImage.Seed s -> {
                Files.createDirectories(disk.path().getParent());
                s.seed().writeVfat(disk.path());
            }
            case NewImage.LinkedClone l -> images.createOverlay(disk.path(), disk.backing().path(), disk.backing().format(),
                    l.bytes());
            case NewImage.Copy c -> images.copy(resolve(c.source()), c.sourceFormat(), disk.path(), disk.format(), progress);
            case NewImage.Adopt a -> images.adopt(resolve(a.file()), disk.path());
        }
    }

    /** Removes the images made for a definition that could not be completed; what to throw for the failure. */
    private RuntimeException withoutCreatedImages(VmDefinition definition, List<Path> created, Exception e) {
        try {
            images.delete(definition.id(), created);
        } catch (IOException cleanup) {
            e.addSuppressed(cleanup);
        }
        return e instanceof RuntimeException r ? r
                : new VmOperationException("cannot create the disks of VM '" + definition.name() + "': " + e.getMessage(), e);
    }

    /**
     * Removes what a definition that never completed left of a VM the engine does not know: its
     * folder under the state directory (without a definition, {@link #recover} skips it) and the images
     * made for it. For a VM the engine knows, this refuses: that is {@link #delete}'s work.
     * Returns what was removed.
     */
    public List<Path> discardLeftovers(String id) {
        if (vms.containsKey(id)) {
            throw new VmAlreadyExistsException(id);
        }
        List<Path> removed = new ArrayList<>();
        try {
            VmFiles files = store.filesOf(id);
            if (Files.exists(files.dir())) {
                store.delete(files);
                removed.add(files.dir());
            }
            removed.addAll(images.deleteAll(id));
        } catch (IOException e) {
            throw new VmOperationException("cannot remove what is left of VM " + id + ": " + e.getMessage(), e);
        }
        if (!removed.isEmpty()) {
            LOG.log(Level.INFO, "VM {0}: removed what an unfinished definition left: {1}", new Object[] {id, removed});
        }
        return removed;
    }

    /** The VM's own UEFI variable store (boot entries, settings), if it has one. */
    public Optional<Path> uefiVariables(String id) {
        Path file = get(id).files().uefiVariables();
        return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
    }

    /**
     * Replaces an Off UEFI VM's variable store with {@code source} (moved in), as a VM brought from elsewhere
     * had it: it must be exactly as large as this host's firmware's store, or the firmware could not use it.
     */
    public VmStatus adoptUefiVariables(String id, Path source) {
        return act(id, VmAction.RECONFIGURE, vm -> {
            if (vm.definition().firmware() != Firmware.UEFI) {
                throw new InvalidVmDefinitionException(List.of(new Violation("firmware", "VM '" + vm.definition().name()
                        + "' boots with BIOS, which keeps no UEFI variables")));
            }
            try {
                long expected = Files.size(uefi.orElseThrow().variablesTemplate());
                long size = Files.size(source);
                if (size != expected) {
                    throw new InvalidVmDefinitionException(List.of(new Violation("uefiVariables", "is " + size
                            + " bytes; this host's UEFI firmware keeps its variables in " + expected + " bytes")));
                }
                Files.move(source, vm.files().uefiVariables(), StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new VmOperationException("cannot take the UEFI variables of VM '" + vm.name() + "': " + e.getMessage(), e);
            }
            vm.log("took the UEFI variables it was exported with");
        });
    }

    // ---------------------------------------------------------------- checkpoints

    /**
     * Refuses (with each disk named) a VM whose disks cannot hold checkpoints: a writable disk that is not
     * qcow2; or one with no writable disk at all.
     */
    public void checkCheckpointable(String id) {
        Checkpoints.covered(get(id).definition());
    }

    /** Bytes the VM's writable disks take in their files now (checkpoints grow them). */
    public long checkpointedBytes(String id) {
        return Checkpoints.bytes(get(id).definition());
    }

    /**
     * Takes checkpoint {@code tag} (an id, not a person's name) of a running, paused or Off VM; returns
     * whether it holds the VM's memory (it was running or paused) or its disks only (it was Off).
     */
    public boolean takeCheckpoint(String id, String tag) {
        boolean[] memory = new boolean[1];
        act(id, VmAction.CHECKPOINT, vm -> memory[0] = checkpoints.take(vm, tag));
        return memory[0];
    }

    /** The memory and device state checkpoint {@code tag} of the running VM keeps, in bytes (0: none, or not running). */
    public long checkpointStateBytes(String id, String tag) {
        ManagedVm vm = get(id);
        vm.lock().lock();
        try {
            return checkpoints.stateBytes(vm, tag);
        } finally {
            vm.lock().unlock();
        }
    }

    /**
     * Applies checkpoint {@code tag}: with {@code memory}, the VM runs on from where it was when the checkpoint
     * was taken (started if it is Off); without, the Off VM's disks become what they were.
     */
    public VmStatus applyCheckpoint(String id, String tag, boolean memory) {
        return act(id, VmAction.APPLY_CHECKPOINT, vm -> checkpoints.apply(vm, tag, memory));
    }

    /** Deletes checkpoint {@code tag}; nothing another checkpoint or the VM's present state holds changes. */
    public VmStatus deleteCheckpoint(String id, String tag) {
        return act(id, VmAction.DELETE_CHECKPOINT, vm -> checkpoints.delete(vm, tag));
    }

    /**
     * Grows disk {@code position} of the VM to {@code bytes}: the image itself while it is Off, and with the
     * guest told (QEMU's block_resize) while it runs. Disks only grow; a read-only disk or an image the VM does
     * not own (one it only uses) is not resized. Returns the disk's size before.
     */
    public long resizeDisk(String id, int position, long bytes) {
        long[] before = new long[1];
        act(id, VmAction.RESIZE_DISK, vm -> {
            List<Disk> disks = vm.definition().disks();
            String field = "disks[" + position + "]";
            if (position < 0 || position >= disks.size()) {
                throw new InvalidVmDefinitionException(List.of(new Violation(field, "VM '" + vm.name() + "' has "
                        + disks.size() + " disk(s), numbered from 0")));
            }
            Disk disk = disks.get(position);
            if (disk.hostDevice()) {
                throw new InvalidVmDefinitionException(List.of(new Violation(field, "is the host device " + disk.path()
                        + ", passed through whole: its size is the device's own, which the host changes")));
            }
            if (disk.readOnly() || !images.owns(id, disk.path())) {
                throw new InvalidVmDefinitionException(List.of(new Violation(field, "is " + (disk.readOnly() ? "read-only"
                        : "an image the VM only uses (" + disk.path().getFileName() + "), not its own") + ": it is not resized")));
            }
            try {
                before[0] = images.virtualBytes(disk);
            } catch (IOException e) {
                throw new VmOperationException("VM '" + vm.name() + "': cannot read disk " + position + ": " + e.getMessage(), e);
            }
            if (bytes <= before[0] || bytes > DiskImages.MAX_BYTES) {
                throw new InvalidVmDefinitionException(List.of(new Violation("sizeMib", "must be more than the disk's "
                        + (before[0] >> 20) + " MiB (disks only grow) and at most 64 TiB")));
            }
            if (vm.state() == VmState.OFF) {
                try {
                    images.resize(disk, bytes);
                } catch (IOException e) {
                    throw new VmOperationException("VM '" + vm.name() + "': cannot resize disk " + position + ": " + e.getMessage(), e);
                }
            } else {
                vm.command(m -> m.blockResize(disk.nodeName(position), bytes));
            }
            vm.log("disk " + position + " grown from " + before[0] + " to " + bytes + " bytes");
        });
        return before[0];
    }

    /** How long a guest has to let go of a disk being removed while it runs. */
    private static final Duration UNPLUG_TIMEOUT = Duration.ofSeconds(30);

    /**
     * Adds a disk to the VM: {@code disk} names an existing image (its path), or {@code image} says what to make
     * (blank, a linked clone, a copy), in the VM's own folder. While the VM runs, the disk is plugged into a free
     * hot-plug port and the guest sees it at once (enlightened profile: virtio on PCI Express); its definition
     * keeps it either way, under a name of its own. Returns its position. Nothing made is left if it fails.
     */
    public int addDisk(String id, Disk disk, NewImage image, LongConsumer progress) {
        int[] position = new int[1];
        act(id, VmAction.ADD_DISK, vm -> {
            VmDefinition before = vm.definition();
            boolean live = vm.state() != VmState.OFF;
            String field = "disks[" + before.disks().size() + "]";
            if (live && before.profile() != DeviceProfile.ENLIGHTENED) {
                throw new InvalidVmDefinitionException(List.of(new Violation(field, "VM '" + vm.name() + "' has the legacy"
                        + " profile, whose IDE disks cannot be added while it runs; add it while the VM is Off")));
            }
            int free = freeNode(id, before);
            String node = "disk" + free;
            Disk added;
            if (image == null && disk.hostDevice()) {
                validator.hostDeviceProblem(disk.path()).ifPresent(why -> {
                    throw new InvalidVmDefinitionException(List.of(new Violation(field + ".device", why)));
                });
                added = new Disk(resolve(disk.path()), DiskFormat.RAW, disk.readOnly(), null, node, true);
            } else if (image == null) {
                // Checked before it is resolved: a path outside the storage root is refused, never followed.
                validator.imageProblem(disk.path(), disk.format()).ifPresent(why -> {
                    throw new InvalidVmDefinitionException(List.of(new Violation(field + ".path", why)));
                });
                added = new Disk(resolve(disk.path()), disk.format(), disk.readOnly(), null, node);
            } else {
                DiskFormat format = image instanceof NewImage.LinkedClone ? DiskFormat.QCOW2
                        : image instanceof NewImage.Adopt a ? a.format() : disk.format();
                Disk.Backing backing = null;
                if (image instanceof NewImage.LinkedClone l) {
                    validator.imageProblem(l.base(), l.baseFormat()).ifPresent(why -> {
                        throw new InvalidVmDefinitionException(List.of(new Violation(field + ".base", why)));
                    });
                    backing = new Disk.Backing(resolve(l.base()), l.baseFormat());
                }
                added = new Disk(images.pathFor(id, free, format), format, false, backing, node);
            }
            List<Disk> disks = new ArrayList<>(before.disks());
            disks.add(added);
            VmDefinition after = before.withDisks(disks);
            List<Violation> problems = validator.violations(after).stream()
                    .filter(v -> image == null || !v.field().equals(field + ".path")).toList();
            if (!problems.isEmpty()) {
                throw new InvalidVmDefinitionException(problems);
            }
            try {
                if (image != null) {
                    make(added, image, progress);
                }
                if (live) {
                    plug(vm, added, node);
                }
            } catch (IOException | RuntimeException e) {
                if (image != null) {
                    try {
                        Files.deleteIfExists(added.path());
                    } catch (IOException cleanup) {
                        e.addSuppressed(cleanup);
                    }
                }
                throw e instanceof RuntimeException r ? r
                        : new VmOperationException("cannot add a disk to VM '" + vm.name() + "': " + e.getMessage(), e);
            }
            store.writeDefinition(vm.files(), after);
            vm.redefine(after);
            position[0] = disks.size() - 1;
            vm.log("disk " + node + " added" + (live ? " while it runs" : "") + ": " + added.path());
        });
        return position[0];
    }

    /** Opens the disk's nodes in the worker and plugs it into the first free hot-plug port. */
    /** Puts a disk just plugged in under the VM's I/O limits, with its other disks. */
    private static void limit(ManagedVm vm, String node) {
        Resources r = vm.definition().resources();
        if (!r.limitsDisks()) {
            return;
        }
        try {
            vm.command(m -> m.setIoThrottle(QemuCommandLine.diskBackendDevice(node, vm.definition().profile()), r.diskBytesPerSecond() == null ? 0 : r.diskBytesPerSecond(),
                    r.diskIops() == null ? 0 : r.diskIops(), QemuCommandLine.THROTTLE_GROUP));
        } catch (VmOperationException e) {
            vm.log("disk " + node + " runs WITHOUT the VM's I/O limits, which QEMU refused for it: " + e.getMessage()
                    + "; set the limits again to retry");
        }
    }

    private void plug(ManagedVm vm, Disk disk, String node) {
        List<String> opened = new ArrayList<>();
        try {
            for (String blockdev : QemuCommandLine.diskBlockdevs(supervisor.expose(vm, disk), node, p -> p)) {
                com.fasterxml.jackson.databind.node.ObjectNode json = (com.fasterxml.jackson.databind.node.ObjectNode)
                        BLOCKDEV_JSON.readTree(blockdev);
                vm.command(m -> m.blockdevAdd(json));
                opened.add(json.path("node-name").asText());
            }
            VmOperationException last = null;
            for (int k = 0; k < QemuCommandLine.HOTPLUG_PORTS; k++) {
                String bus = "hotplug" + k;
                try {
                    vm.command(m -> m.deviceAdd("virtio-blk-pci", QemuCommandLine.diskDevice(node), bus, Map.of("drive", node)));
                    limit(vm, node);
                    return;
                } catch (VmOperationException e) {
                    last = e; // that port holds something already: the next
                }
            }
            throw new VmOperationException("VM '" + vm.name() + "' has no free hot-plug port (it has "
                    + QemuCommandLine.HOTPLUG_PORTS + "); restart it to add more disks while it runs: " + last.getMessage());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        } catch (RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                String n = opened.get(i);
                try {
                    vm.command(m -> m.blockdevDel(n));
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    /**
     * Removes disk {@code position} from the VM: while it runs, the guest is asked to let go of it (it has 30
     * s), then its nodes are closed. The image goes too if the VM owns it (it was made for the VM); an image
     * the VM only used stays. Returns the image deleted, if one was.
     */
    public Optional<Path> removeDisk(String id, int position) {
        Path[] deleted = new Path[1];
        act(id, VmAction.REMOVE_DISK, vm -> {
            VmDefinition before = vm.definition();
            String field = "disks[" + position + "]";
            if (position < 0 || position >= before.disks().size()) {
                throw new InvalidVmDefinitionException(List.of(new Violation(field, "VM '" + vm.name() + "' has "
                        + before.disks().size() + " disk(s), numbered from 0")));
            }
            Disk disk = before.disks().get(position);
            String node = disk.nodeName(position);
            if (vm.state() != VmState.OFF) {
                if (before.profile() != DeviceProfile.ENLIGHTENED) {
                    throw new InvalidVmDefinitionException(List.of(new Violation(field, "VM '" + vm.name() + "' has the"
                            + " legacy profile, whose IDE disks cannot be removed while it runs; remove it while the VM is Off")));
                }
                unplug(vm, node, disk.backing() != null);
                supervisor.withdraw(vm, disk);
            }
            List<Disk> disks = new ArrayList<>();
            for (int i = 0; i < before.disks().size(); i++) {
                if (i != position) {
                    // The others keep the names QEMU knows them by, whatever their new positions.
                    disks.add(before.disks().get(i).withNode(before.disks().get(i).nodeName(i)));
                }
            }
            VmDefinition after = before.withDisks(disks);
            store.writeDefinition(vm.files(), after);
            vm.redefine(after);
            if (images.owns(id, disk.path())) {
                try {
                    Files.deleteIfExists(disk.path());
                    deleted[0] = disk.path();
                } catch (IOException e) {
                    vm.log("could not delete the image of removed disk " + node + ": " + e.getMessage());
                }
            }
            vm.log("disk " + node + " removed" + (vm.state() != VmState.OFF ? " while it runs" : ""));
        });
        return Optional.ofNullable(deleted[0]);
    }

    private void unplug(ManagedVm vm, String node, boolean hasBase) {
        String device = QemuCommandLine.diskDevice(node);
        java.util.concurrent.CompletableFuture<Void> gone = vm.expect("deleted:" + device);
        try {
            vm.command(m -> m.deviceDel(device));
            gone.get(UNPLUG_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new VmOperationException("the guest of VM '" + vm.name() + "' did not let go of disk " + node + " within "
                    + UNPLUG_TIMEOUT.toSeconds() + " s (it may still, when it is ready); the disk stays in the VM's definition");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("interrupted while removing disk " + node + " from VM '" + vm.name() + "'", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new VmOperationException(e.getMessage(), e);
        } finally {
            vm.forget("deleted:" + device);
        }
        vm.command(m -> m.blockdevDel(node));
        if (hasBase) {
            vm.command(m -> m.blockdevDel(node + "-base"));
        }
    }

    /**
     * Adds a network adapter to the VM: on its isolated network or on a virtual switch (a VLAN of it). While the
     * VM runs (enlightened profile only), its backend is opened and a virtio adapter plugged into a free
     * hot-plug port, so the guest sees it at once; its definition keeps it either way, under a name of its own.
     * Returns its position. Nothing is left behind if it fails: no switch port, no backend.
     */
    public int addNic(String id, Nic nic) {
        int[] position = new int[1];
        act(id, VmAction.ADD_NIC, vm -> {
            VmDefinition before = vm.definition();
            boolean live = vm.state() != VmState.OFF;
            int index = before.nics().size();
            String field = "nics[" + index + "]";
            if (live && before.profile() != DeviceProfile.ENLIGHTENED) {
                throw new InvalidVmDefinitionException(List.of(new Violation(field, "VM '" + vm.name() + "' has the legacy"
                        + " profile, whose adapters cannot be added while it runs; add it while the VM is Off")));
            }
            String node = "net" + freeNicSlot(before);
            Nic added = new Nic(nic.mac() == null ? Nic.randomMac() : nic.mac(), nic.switchId(), nic.vlan(), node);
            List<Nic> nics = new ArrayList<>(before.nics());
            nics.add(added);
            VmDefinition after = before.withNics(nics);
            List<Violation> problems = new ArrayList<>(validator.violations(after));
            if (added.onSwitch() && problems.stream().noneMatch(v -> v.field().equals(field + ".switch"))) {
                if (switches.unavailable().isPresent()) {
                    problems.add(new Violation(field + ".switch", "this host cannot run virtual switches: "
                            + switches.unavailable().get()));
                } else if (switches.find(added.switchId()).isEmpty()) {
                    problems.add(new Violation(field + ".switch", "no virtual switch '" + added.switchId() + "' on this host"));
                }
            }
            if (!problems.isEmpty()) {
                throw new InvalidVmDefinitionException(problems);
            }
            if (live) {
                plugNic(vm, added, index);
            }
            store.writeDefinition(vm.files(), after);
            vm.redefine(after);
            position[0] = index;
            vm.log("network adapter " + node + " added" + (live ? " while it runs" : "") + ": " + added.describe());
        });
        return position[0];
    }

    /** The least k such that no adapter of the VM is known as {@code net<k>}: its name and its switch port's number. */
    private static int freeNicSlot(VmDefinition def) {
        java.util.Set<Integer> taken = new java.util.HashSet<>();
        for (int i = 0; i < def.nics().size(); i++) {
            taken.add(def.nics().get(i).slot(i));
        }
        int k = 0;
        while (taken.contains(k)) {
            k++;
        }
        return k;
    }

    /** Makes the adapter's switch port, opens its backend and plugs it into the first free hot-plug port; undoes it all if that fails. */
    private void plugNic(ManagedVm vm, Nic nic, int position) {
        String node = nic.nodeName(position);
        int slot = nic.slot(position);
        boolean ported = false;
        boolean opened = false;
        try {
            if (nic.onSwitch()) {
                switches.plug(vm.id(), slot, nic.switchId(), nic.vlan(), supervisor.workerUser(vm));
                ported = true;
                // Before the guest has the adapter: it never sees the port without the VM's limits.
                supervisor.limitPort(vm, vm.definition().resources(), slot);
            }
            com.fasterxml.jackson.databind.node.ObjectNode netdev = BLOCKDEV_JSON.createObjectNode();
            for (String option : QemuCommandLine.nicNetdev(vm.id(), nic, position).split(",")) {
                int eq = option.indexOf('=');
                if (eq < 0) {
                    netdev.put("type", option);
                } else if (option.startsWith("restrict=")) {
                    netdev.put("restrict", option.endsWith("=on"));
                } else {
                    netdev.put(option.substring(0, eq), option.substring(eq + 1));
                }
            }
            vm.command(m -> m.netdevAdd(netdev));
            opened = true;
            VmOperationException last = null;
            for (int k = 0; k < QemuCommandLine.HOTPLUG_PORTS; k++) {
                String bus = "hotplug" + k;
                try {
                    vm.command(m -> m.deviceAdd("virtio-net-pci", Nic.device(node), bus, Map.of("netdev", node, "mac", nic.mac())));
                    return;
                } catch (VmOperationException e) {
                    last = e; // that port holds something already: the next
                }
            }
            throw new InvalidVmDefinitionException(List.of(new Violation("nics[" + position + "]", "VM '" + vm.name()
                    + "' has no free hot-plug port (it has " + QemuCommandLine.HOTPLUG_PORTS + ", for disks and adapters added"
                    + " while it runs); restart it, or add the adapter while it is Off (QEMU: " + last.getMessage() + ")")));
        } catch (NetworkException e) {
            throw new VmOperationException("cannot add a network adapter to VM '" + vm.name() + "': " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (opened) {
                try {
                    vm.command(m -> m.netdevDel(node));
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            if (ported) {
                try {
                    switches.unplug(vm.id(), List.of(slot));
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    /**
     * Removes network adapter {@code position} from the VM: while it runs, the guest is asked to let go of it
     * (it has 30 s), then its backend is closed and its switch port removed. The others keep their names.
     */
    public void removeNic(String id, int position) {
        act(id, VmAction.REMOVE_NIC, vm -> {
            VmDefinition before = vm.definition();
            String field = "nics[" + position + "]";
            if (position < 0 || position >= before.nics().size()) {
                throw new InvalidVmDefinitionException(List.of(new Violation(field, "VM '" + vm.name() + "' has "
                        + before.nics().size() + " network adapter(s), numbered from 0")));
            }
            Nic nic = before.nics().get(position);
            String node = nic.nodeName(position);
            boolean live = vm.state() != VmState.OFF;
            if (live) {
                if (before.profile() != DeviceProfile.ENLIGHTENED) {
                    throw new InvalidVmDefinitionException(List.of(new Violation(field, "VM '" + vm.name() + "' has the"
                            + " legacy profile, whose adapters cannot be removed while it runs; remove it while the VM is Off")));
                }
                unplugDevice(vm, Nic.device(node), "network adapter " + node);
                vm.command(m -> m.netdevDel(node));
                if (nic.onSwitch()) {
                    try {
                        switches.unplug(vm.id(), List.of(nic.slot(position)));
                    } catch (NetworkException e) {
                        vm.log("the switch port of removed adapter " + node + " could not be removed: " + e.getMessage());
                    }
                }
            }
            List<Nic> nics = new ArrayList<>();
            for (int i = 0; i < before.nics().size(); i++) {
                if (i != position) {
                    // The others keep the names QEMU and the switch know them by, whatever their new positions.
                    nics.add(before.nics().get(i).withNode(before.nics().get(i).nodeName(i)));
                }
            }
            VmDefinition after = before.withNics(nics);
            store.writeDefinition(vm.files(), after);
            vm.redefine(after);
            vm.log("network adapter " + node + " removed" + (live ? " while it runs" : "") + ": " + nic.describe());
        });
    }

    /**
     * Gives the VM {@code vcpus} vCPUs, up to its maximum ({@code maxVcpus}). While it runs (or is paused), vCPUs are
     * plugged into the machine's next free slots and the guest is told through ACPI (it brings them online); they are
     * not taken away while it runs (see {@link #NO_VCPU_UNPLUG}). Off, only the definition changes. The definition
     * says how many it has, so a restart or a restored state has them all.
     */
    public VmStatus setVcpus(String id, int vcpus) {
        return act(id, VmAction.CHANGE_VCPUS, vm -> {
            VmDefinition before = vm.definition();
            if (vcpus < 1 || vcpus > before.vcpuLimit()) {
                throw new InvalidVmDefinitionException(List.of(new Violation("vcpus", "must be from 1 to the VM's maximum, "
                        + before.vcpuLimit() + (before.cpuHotplug() ? "" : " (maxVcpus: it was created without room for more"
                        + " vCPUs; set maxVcpus while it is Off)") + "; got " + vcpus)));
            }
            if (vcpus == before.vcpus()) {
                return;
            }
            boolean live = vm.state() != VmState.OFF;
            if (live && vcpus < before.vcpus()) {
                throw new InvalidVmDefinitionException(List.of(new Violation("vcpus", NO_VCPU_UNPLUG + ": it has "
                        + before.vcpus() + "; lower it while the VM is Off")));
            }
            VmDefinition after = before.withVcpus(vcpus);
            if (live) {
                try {
                    plugVcpus(vm, vcpus);
                } finally {
                    // Whatever QEMU took before a refusal, the definition says what the worker has.
                    int present = (int) vm.query(QemuMonitor::cpuSlots).stream().filter(QemuMonitor.CpuSlot::present).count();
                    if (present != before.vcpus()) {
                        VmDefinition now = before.withVcpus(present);
                        store.writeDefinition(vm.files(), now);
                        vm.redefine(now);
                        cpuControls(vm, now);
                    }
                }
            } else {
                requireSize(after);
                store.writeDefinition(vm.files(), after);
                vm.redefine(after);
            }
            vm.log("vCPUs changed from " + before.vcpus() + " to " + vcpus + (live ? " while it runs" : ""));
        });
    }

    /**
     * Why vCPUs are not unplugged from a running VM. QEMU 7.2 does unplug one (device_del by QOM path; a Linux guest
     * lets go in a tenth of a second), but the worker's heap is corrupt afterwards: the next DIMM plugged in aborted it
     * ("double free or corruption"), found by HotAddApiTest and reproduced by hand under TCG. Windows never lets go.
     */
    static final String NO_VCPU_UNPLUG = "vCPUs are not taken away while the VM runs (a vCPU unplugged leaves this"
            + " host's QEMU unstable, and many guests cannot let go of one)";

    /**
     * Plugs vCPUs into the free slots after the present ones, in slot order, until the worker has {@code wanted}: slot
     * order is the order a worker started with {@code -smp wanted} has them in, so a restored state finds them.
     */
    private void plugVcpus(ManagedVm vm, int wanted) {
        List<QemuMonitor.CpuSlot> slots = vm.query(QemuMonitor::cpuSlots);
        for (int k = 0; k < slots.size() && k < wanted; k++) {
            QemuMonitor.CpuSlot slot = slots.get(k);
            if (!slot.present()) {
                String device = "cpu" + k;
                vm.command(m -> m.cpuAdd(slot, device));
            }
        }
    }

    /** The worker's CPU cap is a share of its vCPUs: set it again for their new number. */
    private void cpuControls(ManagedVm vm, VmDefinition def) {
        Worker worker = vm.worker();
        if (worker == null || !def.resources().controlsCpu()) {
            return;
        }
        try {
            cgroups.apply(vm.id(), worker.pid(), def.vcpus(), def.resources());
        } catch (IOException e) {
            vm.log("its CPU cap stays set for its former vCPUs: its cgroup refused the change: " + e.getMessage());
        }
    }

    /** Refuses a new size that breaks a rule of the VM's size or of its resource controls (a balloon above its memory). */
    private void requireSize(VmDefinition after) {
        List<Violation> problems = validator.violations(after).stream().filter(v -> v.field().startsWith("vcpus")
                || v.field().startsWith("memory") || v.field().startsWith("max") || v.field().startsWith("resources")).toList();
        if (!problems.isEmpty()) {
            throw new InvalidVmDefinitionException(problems);
        }
    }

    /**
     * Gives the VM {@code memoryMib} of memory, up to its maximum ({@code maxMemoryMib}). While it runs (or is
     * paused), memory only grows, in steps of 128 MiB: one DIMM holds what is added, and the guest is told through
     * ACPI (it brings the memory online); the VM has 8 DIMM slots. Memory is not taken away from a running guest,
     * which may be using it: that is done while it is Off, when its memory (DIMMs and all) becomes one block again.
     */
    public VmStatus setMemory(String id, int memoryMib) {
        return act(id, VmAction.CHANGE_MEMORY, vm -> {
            VmDefinition before = vm.definition();
            int limit = before.memoryLimitMib();
            boolean live = vm.state() != VmState.OFF;
            if (live && memoryMib > before.memoryMib() && before.profile() != DeviceProfile.ENLIGHTENED) {
                throw new InvalidVmDefinitionException(List.of(new Violation("memoryMib", "VM '" + vm.name() + "' has the"
                        + " legacy profile, whose memory cannot grow while it runs (memory is added to enlightened VMs, q35"
                        + " with ACPI memory hot-plug); change it while the VM is Off")));
            }
            if (memoryMib < VmDefinitionValidator.MIN_MEMORY_MIB || memoryMib > limit) {
                throw new InvalidVmDefinitionException(List.of(new Violation("memoryMib", "must be from "
                        + VmDefinitionValidator.MIN_MEMORY_MIB + " MiB to the VM's maximum, " + limit + " MiB"
                        + (before.memoryHotplug() ? "" : " (maxMemoryMib: it was created without room for more memory;"
                        + " set maxMemoryMib while it is Off)") + "; got " + memoryMib)));
            }
            if (!live) {
                if (memoryMib == before.memoryMib() && before.memoryDimmsMib().isEmpty()) {
                    return;
                }
                VmDefinition after = before.withMemory(memoryMib, List.of());
                requireSize(after);
                store.writeDefinition(vm.files(), after);
                vm.redefine(after);
                vm.log("memory changed from " + before.memoryMib() + " to " + memoryMib + " MiB");
                return;
            }
            if (memoryMib == before.memoryMib()) {
                return;
            }
            int added = memoryMib - before.memoryMib();
            if (added < 0) {
                throw new InvalidVmDefinitionException(List.of(new Violation("memoryMib", "is not taken away while the VM"
                        + " runs (its guest may be using it): it has " + before.memoryMib() + " MiB; lower it while the VM is Off")));
            }
            if (added % VmDefinition.MEMORY_STEP_MIB != 0) {
                throw new InvalidVmDefinitionException(List.of(new Violation("memoryMib", "grows in steps of "
                        + VmDefinition.MEMORY_STEP_MIB + " MiB while the VM runs (the guest brings memory online in blocks"
                        + " of that size): " + before.memoryMib() + " MiB plus a multiple of " + VmDefinition.MEMORY_STEP_MIB
                        + "; " + memoryMib + " would add " + added)));
            }
            int k = before.memoryDimmsMib().size();
            if (k >= VmDefinition.MEMORY_SLOTS) {
                throw new InvalidVmDefinitionException(List.of(new Violation("memoryMib", "VM '" + vm.name() + "' has had"
                        + " memory added " + k + " times while it runs, which fills its " + VmDefinition.MEMORY_SLOTS
                        + " memory slots; change its memory while it is Off (that frees them)")));
            }
            String backend = QemuCommandLine.dimmMemory(k);
            vm.command(m -> m.memoryBackendAdd(backend, (long) added << 20));
            try {
                vm.command(m -> m.dimmAdd(QemuCommandLine.dimmDevice(k), backend));
            } catch (VmOperationException e) {
                try {
                    vm.command(m -> m.objectDel(backend));
                } catch (VmOperationException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            List<Integer> dimms = new ArrayList<>(before.memoryDimmsMib());
            dimms.add(added);
            VmDefinition after = before.withMemory(memoryMib, dimms);
            store.writeDefinition(vm.files(), after);
            vm.redefine(after);
            vm.log("memory grown from " + before.memoryMib() + " to " + memoryMib + " MiB while it runs (DIMM "
                    + QemuCommandLine.dimmDevice(k) + ", " + added + " MiB)");
        });
    }

    /** Asks the guest to let go of a device and waits for QEMU's DEVICE_DELETED. */
    private void unplugDevice(ManagedVm vm, String device, String what) {
        java.util.concurrent.CompletableFuture<Void> gone = vm.expect("deleted:" + device);
        try {
            vm.command(m -> m.deviceDel(device));
            gone.get(UNPLUG_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new VmOperationException("the guest of VM '" + vm.name() + "' did not let go of " + what + " within "
                    + UNPLUG_TIMEOUT.toSeconds() + " s (it may still, when it is ready); it stays in the VM's definition");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmOperationException("interrupted while removing " + what + " from VM '" + vm.name() + "'", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new VmOperationException(e.getMessage(), e);
        } finally {
            vm.forget("deleted:" + device);
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper BLOCKDEV_JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** The least k such that no disk of the VM is known as {@code disk<k>} and no image of that name exists. */
    private int freeNode(String id, VmDefinition def) {
        java.util.Set<String> taken = new java.util.HashSet<>();
        for (int i = 0; i < def.disks().size(); i++) {
            taken.add(def.disks().get(i).nodeName(i));
        }
        for (int k = 0; ; k++) {
            String node = "disk" + k;
            int index = k;
            boolean fileTaken = java.util.Arrays.stream(DiskFormat.values())
                    .anyMatch(f -> Files.exists(images.pathFor(id, index, f)));
            if (!taken.contains(node) && !fileTaken) {
                return k;
            }
        }
    }

    /**
     * Puts ISO image {@code medium} into the VM's CD-ROM drive, or ejects what is in it ({@code medium} null):
     * while the VM runs (or is paused), through the drive's tray, so the guest sees the medium change at once;
     * either way the definition keeps what is in the drive for every later start. A VM without a drive gets
     * one when an ISO is inserted while it is Off; a running machine cannot take a new IDE drive, so then the
     * change is refused, as is ejecting from a drive the VM does not have. An image a VM may not open is
     * refused by field {@code cdrom.medium}; nothing changes then.
     */
    public VmStatus changeMedium(String id, Path medium) {
        return act(id, VmAction.CHANGE_MEDIUM, vm -> {
            VmDefinition before = vm.definition();
            boolean live = vm.state() != VmState.OFF;
            if (before.cdrom() == null && (live || medium == null)) {
                throw new VmStateException(VmAction.CHANGE_MEDIUM, vm.state(), "VM '" + vm.name() + "' has no CD-ROM drive"
                        + (medium == null ? " to eject from" : "; a running machine cannot take one. Insert the ISO while"
                        + " the VM is Off: that gives it a drive"));
            }
            if (medium != null) {
                // Checked before it is resolved: a path outside the storage root is refused, never followed.
                validator.imageProblem(medium, DiskFormat.RAW).ifPresent(why -> {
                    throw new InvalidVmDefinitionException(List.of(new Violation("cdrom.medium", why)));
                });
            }
            CdRom drive = new CdRom(medium == null ? null : resolve(medium));
            VmDefinition after = before.withCdRom(drive);
            List<Violation> problems = validator.violations(after).stream()
                    .filter(v -> v.field().startsWith("cdrom")).toList();
            if (!problems.isEmpty()) {
                throw new InvalidVmDefinitionException(problems);
            }
            if (live) {
                swapMedium(vm, drive.medium());
            }
            store.writeDefinition(vm.files(), after);
            vm.redefine(after);
            vm.log((before.cdrom() == null ? "CD-ROM drive added with " : "CD-ROM drive now holds ")
                    + (drive.isEmpty() ? "nothing (ejected)" : drive.medium()) + (live ? " while it runs" : ""));
        });
    }

    /**
     * Changes the medium in the running worker's drive: the new image is opened first (so a file QEMU cannot
     * open changes nothing), the tray opened even if the guest locked it, the old medium taken out and the new
     * one put in, the tray closed; then the old medium's node is closed. Each medium has a node of its own
     * ({@code cdrom0}, {@code cdrom1}, …): QEMU cannot reuse a name while the old node is still open.
     */
    private void swapMedium(ManagedVm vm, Path iso) {
        String device = QemuCommandLine.CDROM_DEVICE;
        List<String> old = vm.query(QemuMonitor::blockNodeNames).stream().filter(n -> n.matches("cdrom[0-9]+")).toList();
        String node = null;
        if (iso != null) {
            int k = 0;
            while (old.contains("cdrom" + k)) {
                k++;
            }
            node = "cdrom" + k;
            try {
                com.fasterxml.jackson.databind.node.ObjectNode json = (com.fasterxml.jackson.databind.node.ObjectNode)
                        BLOCKDEV_JSON.readTree(QemuCommandLine.cdromBlockdev(node, supervisor.exposeMedium(vm, iso)));
                vm.command(m -> m.blockdevAdd(json));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            } catch (VmOperationException e) {
                throw new VmOperationException("cannot open " + iso.getFileName() + " for the CD-ROM drive of VM '"
                        + vm.name() + "': " + e.getMessage(), e);
            }
        }
        String added = node;
        try {
            vm.command(m -> m.openTray(device));
            vm.command(m -> m.removeMedium(device));
        } catch (VmOperationException e) {
            if (added != null) {
                closeQuietly(vm, added, e);
            }
            throw new VmOperationException("cannot open the CD-ROM drive of VM '" + vm.name() + "' (a worker started"
                    + " before drives had an id needs a restart first): " + e.getMessage(), e);
        }
        if (added != null) {
            try {
                vm.command(m -> m.insertMedium(device, added));
            } catch (VmOperationException e) {
                // Put the old medium back, so that the drive and the definition still agree.
                old.stream().findFirst().ifPresent(previous -> {
                    try {
                        vm.command(m -> m.insertMedium(device, previous));
                        vm.command(m -> m.closeTray(device));
                    } catch (VmOperationException again) {
                        e.addSuppressed(again);
                    }
                });
                closeQuietly(vm, added, e);
                throw new VmOperationException("cannot insert " + iso.getFileName() + " into the CD-ROM drive of VM '"
                        + vm.name() + "': " + e.getMessage(), e);
            }
        }
        vm.command(m -> m.closeTray(device));
        for (String previous : old) {
            try {
                vm.command(m -> m.blockdevDel(previous));
            } catch (VmOperationException e) {
                vm.log("the CD-ROM's previous medium (node " + previous + ") stays open in the worker until it stops: "
                        + e.getMessage());
            }
        }
    }

    private static void closeQuietly(ManagedVm vm, String node, RuntimeException cause) {
        try {
            vm.command(m -> m.blockdevDel(node));
        } catch (VmOperationException cleanup) {
            cause.addSuppressed(cleanup);
        }
    }

    /** Replaces a VM's definition; only while it is Off, since a worker runs with what it was started with. */
    public VmStatus redefine(VmDefinition definition) {
        VmDefinition def = absolutePaths(definition);
        return act(def.id(), VmAction.RECONFIGURE, vm -> {
            store.writeDefinition(vm.files(), def);
            vm.redefine(def);
            vm.log("reconfigured");
        });
    }

    /** Renames a VM, in any state: the name is for people; the worker knows the VM by its id. */
    public VmStatus rename(String id, String name) {
        ManagedVm vm = get(id);
        vm.lock().lock();
        try {
            VmDefinition d = vm.definition();
            VmDefinition renamed = d.withName(name);
            List<Violation> violations = validator.violations(renamed).stream()
                    .filter(v -> v.field().equals("name")).toList();
            if (!violations.isEmpty()) {
                throw new InvalidVmDefinitionException(violations);
            }
            store.writeDefinition(vm.files(), renamed);
            String before = d.name();
            vm.redefine(renamed);
            vm.log("renamed from '" + before + "'");
            return vm.status();
        } finally {
            vm.lock().unlock();
        }
    }

    /**
     * Deletes an Off or Saved VM: its definition, its saved state, and the images it owns (see
     * {@link DiskImages}); images it only used stay. Returns the images deleted.
     */
    public List<Path> delete(String id) {
        List<Path> deleted = new ArrayList<>();
        act(id, VmAction.DELETE, vm -> {
            try {
                store.delete(vm.files());
                deleted.addAll(images.deleteAll(id));
            } catch (IOException e) {
                throw new VmOperationException("cannot delete the files of VM '" + vm.name() + "': " + e.getMessage(), e);
            }
            vms.remove(id);
            vm.log(deleted.isEmpty() ? "deleted" : "deleted with its disks " + deleted);
        });
        return deleted;
    }

    // ---------------------------------------------------------------- live migration

    /**
     * The disks of a running or paused VM that a live migration between hosts with their own storage copies, by
     * position, with the size the guest sees: every writable disk image (read-only ones and host devices stay where
     * they are and must be reachable on the target as they are). The target makes fresh images of these sizes.
     */
    public Map<Integer, Long> localDiskSizes(String id) {
        ManagedVm vm = get(id);
        vm.lock().lock();
        try {
            VmStateMachine.check(VmAction.MIGRATE, vm.state(), vm.name());
            Map<String, Long> sizes = vm.query(QemuMonitor::virtualSizes);
            Map<Integer, Long> disks = new TreeMap<>();
            List<Disk> all = vm.definition().disks();
            for (int i = 0; i < all.size(); i++) {
                Disk disk = all.get(i);
                if (!disk.readOnly() && !disk.hostDevice()) {
                    disks.put(i, sizes.getOrDefault(disk.nodeName(i), 0L));
                }
            }
            return disks;
        } finally {
            vm.lock().unlock();
        }
    }

    /**
     * Target side of a live migration: defines the VM arriving from another host (its definition as this host must
     * run it: paths of this host), makes a fresh image for each local disk ({@link IncomingOptions#localDiskBytes})
     * in the VM's own folder, starts its worker paused waiting for the VM's memory ({@code -incoming defer}) and, when
     * disks are local, an NBD server exporting their fresh images writable. Returns where the source must send. The
     * VM is Migrating until {@link #finishIncoming} hands it over or {@link #abortIncoming} removes it again; if
     * this fails, nothing is left behind.
     */
    public IncomingEndpoint receive(VmDefinition definition, IncomingOptions options) {
        Map<Integer, Long> local = options.localDiskBytes();
        List<Violation> violations = new ArrayList<>();
        List<Disk> disks = new ArrayList<>(definition.disks());
        for (Map.Entry<Integer, Long> entry : new TreeMap<>(local).entrySet()) {
            int i = entry.getKey();
            String field = "disks[" + i + "]";
            if (i < 0 || i >= disks.size()) {
                violations.add(new Violation(field, "the VM has " + disks.size() + " disk(s): there is no disk " + i + " to copy"));
            } else if (disks.get(i).readOnly() || disks.get(i).hostDevice()) {
                violations.add(new Violation(field, "is read-only or a host device: it is not copied, it must be"
                        + " reachable here as it is"));
            } else if (entry.getValue() <= 0 || entry.getValue() > DiskImages.MAX_BYTES) {
                violations.add(new Violation(field + ".bytes", "must be between 1 and " + DiskImages.MAX_BYTES
                        + " bytes; got " + entry.getValue()));
            } else {
                Disk disk = disks.get(i);
                disks.set(i, new Disk(images.pathFor(definition.id(), i, disk.format()), disk.format(), false, null,
                        disk.node(), false));
            }
        }
        if (!violations.isEmpty()) {
            throw new InvalidVmDefinitionException(violations);
        }
        if (vms.containsKey(definition.id())) {
            throw new VmAlreadyExistsException(definition.id());
        }
        VmDefinition def = definition.withDisks(disks);
        List<Path> created = new ArrayList<>();
        try {
            for (int i : new TreeMap<>(local).keySet()) {
                images.create(disks.get(i).path(), disks.get(i).format(), local.get(i));
                created.add(disks.get(i).path());
            }
            define(def);
        } catch (IOException | RuntimeException e) {
            throw withoutCreatedImages(definition, created, e);
        }
        ManagedVm vm = get(definition.id());
        vm.lock().lock();
        try {
            incoming.add(vm.id());
            vm.transition(VmState.MIGRATING, "arriving live from another host");
            supervisor.launch(vm, true, WorkerPhase.MIGRATING_IN, VmState.OFF);
            return migrations.listen(vm, options, local.keySet());
        } catch (RuntimeException e) {
            try {
                discardIncoming(vm, "its arrival could not be prepared: " + e.getMessage());
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        } finally {
            vm.lock().unlock();
        }
    }

    /**
     * Target side: hands the arrived VM over, once its source has sent everything and stopped (see
     * {@link #migrateOut}): its memory loaded, the NBD exports withdrawn, its resource controls applied, the guest
     * resumed (kept paused when it left paused). The VM is Running (or Paused) here from now on.
     */
    public VmStatus finishIncoming(String id, boolean paused) {
        ManagedVm vm = get(id);
        vm.lock().lock();
        try {
            requireIncoming(vm);
            Worker worker = vm.worker();
            if (vm.state() != VmState.MIGRATING || worker == null) {
                throw new VmOperationException("VM '" + vm.name() + "' cannot be taken over: its incoming worker is gone ("
                        + vm.status().reason() + ")");
            }
            try {
                migrations.takeOver(vm, worker, paused);
            } catch (VmOperationException e) {
                throw supervisor.failAndEnd(vm, worker, VmState.OFF, "taking the migrated VM over failed: " + e.getMessage());
            }
            incoming.remove(id);
            supervisor.recordPhase(vm, vm.record().withPhase(WorkerPhase.SUPERVISED));
            vm.transition(paused ? VmState.PAUSED : VmState.RUNNING, "arrived live from another host (worker "
                    + worker.pid() + ")");
            return vm.status();
        } finally {
            vm.lock().unlock();
        }
    }

    /**
     * Target side: gives up a VM that was arriving (the source failed, was cancelled, or this side is not wanted):
     * its worker ends, its definition and the fresh images made for it are removed. Returns the images removed.
     */
    public List<Path> abortIncoming(String id) {
        ManagedVm vm = get(id);
        vm.lock().lock();
        try {
            requireIncoming(vm);
            return discardIncoming(vm, "the incoming live migration was abandoned");
        } finally {
            vm.lock().unlock();
        }
    }

    private void requireIncoming(ManagedVm vm) {
        if (!incoming.contains(vm.id())) {
            throw new VmStateException(VmAction.MIGRATE, vm.state(), "VM '" + vm.name() + "' is not arriving from"
                    + " another host; it is " + vm.state().displayName());
        }
    }

    private List<Path> discardIncoming(ManagedVm vm, String reason) {
        if (vm.worker() != null) {
            supervisor.end(vm, VmState.OFF, reason);
        }
        List<Path> removed;
        try {
            store.delete(vm.files());
            removed = images.deleteAll(vm.id());
        } catch (IOException e) {
            throw new VmOperationException("cannot remove what arrived of VM '" + vm.name() + "': " + e.getMessage(), e);
        } finally {
            vms.remove(vm.id());
            incoming.remove(vm.id());
        }
        vm.log(reason + "; removed with " + removed);
        return removed;
    }

    /**
     * Source side of a live migration: sends the running (or paused) VM to the worker waiting for it at
     * {@code target} (see {@link #receive} on the other host). Local disks are mirrored to the target's NBD exports
     * while the guest runs; then its memory is sent; QEMU stops the guest for the last part (the downtime, measured);
     * the mirrors are completed; then {@code handOver} must resume the guest at the target (the target's
     * {@link #finishIncoming}). Only after it returned does the worker here end: never two running guests. The VM
     * then leaves this engine: its definition, and its own images that were copied, are removed.
     *
     * <p>Any failure, a {@code cancelled} that turns true, or a {@code handOver} that throws: the migration and the
     * mirrors are cancelled, the guest runs on here as it was (Running or Paused) and the failure is thrown; the
     * caller then abandons the target ({@link #abortIncoming}). {@code percent} hears the progress (disks and memory).
     */
    public MigrationResult migrateOut(String id, IncomingEndpoint target, MigrationOptions options, LongConsumer percent,
            java.util.function.BooleanSupplier cancelled, Runnable handOver) {
        MigrationResult[] result = new MigrationResult[1];
        act(id, VmAction.MIGRATE, vm -> {
            List<Disk> disks = vm.definition().disks();
            MigrationResult sent = migrations.send(vm, target, options, percent, cancelled, handOver);
            List<Path> removed = new ArrayList<>();
            try {
                store.delete(vm.files());
                for (int position : target.exports().keySet()) {
                    Path image = disks.get(position).path();
                    if (images.owns(id, image)) {
                        removed.add(image);
                    }
                }
                images.delete(id, removed);
            } catch (IOException e) {
                vm.log("migrated, but what it left here could not all be removed: " + e.getMessage());
            }
            vms.remove(id);
            vm.log("left this host" + (removed.isEmpty() ? "" : "; its copied images removed: " + removed));
            result[0] = sent.withRemoved(removed);
        });
        return result[0];
    }

    // ---------------------------------------------------------------- reading (never waits on a worker)

    public List<VmStatus> list() {
        return vms.values().stream()
                .map(ManagedVm::status)
                .sorted(Comparator.comparing(VmStatus::name).thenComparing(VmStatus::id))
                .toList();
    }

    /**
     * The workers of Running and Paused VMs that the engine is connected to and that answer, read
     * without any VM's lock: a VM in the middle of an action shows as it was or as it is.
     */
    public List<RunningWorker> runningWorkers() {
        List<RunningWorker> running = new ArrayList<>();
        for (ManagedVm vm : vms.values()) {
            VmState state = vm.state();
            Worker worker = vm.worker();
            if ((state == VmState.RUNNING || state == VmState.PAUSED) && worker != null && worker.qmp() != null
                    && worker.qmp().isOpen() && !vm.isUnresponsive()) {
                running.add(new RunningWorker(vm.definition(), state, worker.pid(), worker.startTicks(), worker.qmp()));
            }
        }
        return running;
    }

    public VmStatus status(String id) {
        return get(id).status();
    }

    /** The VMs arriving live here: received ({@link #receive}), neither finished nor aborted yet. */
    public java.util.Set<String> arriving() {
        return java.util.Set.copyOf(incoming);
    }

    /** The VM's status, or empty if this engine has no such VM. */
    public Optional<VmStatus> find(String id) {
        ManagedVm vm = id == null ? null : vms.get(id);
        return vm == null ? Optional.empty() : Optional.of(vm.status());
    }

    /**
     * Asks the VM's worker, in the background, whether it still answers: for those who saw another of
     * its sockets (its display) time out. A worker that does not answer within the command timeout is
     * shown as unresponsive, like one whose command timed out. Returns at once; never waits on a worker.
     */
    public void checkAnswering(String id) {
        ManagedVm vm = get(id);
        Worker worker = vm.worker();
        if (worker == null || worker.qmp() == null || vm.isUnresponsive() || !vm.startProbe()) {
            return;
        }
        Thread.ofVirtual().name("answering-" + worker.pid()).start(() -> {
            try {
                QemuMonitor.over(worker.qmp(), settings.commandTimeout()).queryStatus();
            } catch (QmpException e) {
                vm.log("its worker did not answer a check: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                vm.probeDone();
            }
        });
    }

    public Path serialLog(String id) {
        return get(id).files().serialLog();
    }

    /** The last lines the guest wrote to its serial console (from at most the log's last 256 KiB). */
    public List<String> serialTail(String id, int lines) {
        return LogTail.of(get(id).files().serialLog(), lines, 256 * 1024);
    }

    /** The VM's screen, there while its worker runs. */
    public VmDisplay display(String id) {
        return new VmDisplay(id, get(id).files().vncSocket());
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts an Off VM, or restores a Saved one to the state it was saved in. */
    public VmStatus start(String id) {
        return act(id, VmAction.START, vm -> {
            if (vm.state() == VmState.SAVED) {
                savedStates.restore(vm);
            } else {
                boot(vm);
            }
        });
    }

    public VmStatus pause(String id) {
        return act(id, VmAction.PAUSE, vm -> {
            vm.command(QemuMonitor::stop);
            vm.transition(VmState.PAUSED, "paused on request");
        });
    }

    public VmStatus resume(String id) {
        return act(id, VmAction.RESUME, vm -> {
            vm.command(QemuMonitor::cont);
            vm.transition(VmState.RUNNING, "resumed on request");
        });
    }

    /** Resets the guest, like pressing the machine's reset button; its state stays what it was. */
    public VmStatus restart(String id) {
        return act(id, VmAction.RESTART, vm -> {
            vm.command(QemuMonitor::systemReset);
            vm.log("reset on request");
        });
    }

    /** Saves the VM's memory and device state to a file and ends its worker; start restores it. */
    public VmStatus save(String id) {
        return act(id, VmAction.SAVE, savedStates::save);
    }

    public VmStatus turnOff(String id) {
        return act(id, VmAction.TURN_OFF, vm -> supervisor.end(vm, VmState.OFF, "turned off"));
    }

    public VmStatus discardSavedState(String id) {
        return act(id, VmAction.DISCARD_SAVED_STATE, vm -> {
            store.clearSaved(vm.files());
            vm.transition(VmState.OFF, "saved state discarded");
        });
    }

    /**
     * Presses the ACPI power button and waits for the guest to power off; a guest that has not done so
     * within {@code timeout} is turned off. The wait does not hold the VM's lock, so a person can turn
     * the VM off meanwhile.
     */
    public VmStatus shutDown(String id, Duration timeout) {
        ManagedVm vm = get(id);
        Worker worker;
        vm.lock().lock();
        try {
            VmStateMachine.check(VmAction.SHUT_DOWN, vm.state(), vm.name());
            vm.requireAnswering(VmAction.SHUT_DOWN);
            worker = vm.worker();
            vm.transition(VmState.STOPPING, "shut down requested: ACPI power button pressed");
            try {
                vm.command(QemuMonitor::systemPowerdown);
            } catch (VmOperationException e) {
                vm.transition(VmState.RUNNING, "the power button could not be pressed");
                throw e;
            }
            // Set after the press succeeded; the worker's end cannot be settled before we release the lock.
            worker.expect(VmState.OFF, "shut down by the guest on request");
        } finally {
            vm.lock().unlock();
        }
        Optional<WorkerExit> exit = WorkerSupervisor.await(worker, timeout);
        vm.lock().lock();
        try {
            if (exit.isPresent()) {
                supervisor.handleExit(vm, worker, exit.get());
            } else if (vm.worker() == worker) {
                supervisor.end(vm, VmState.OFF, "the guest did not shut down within " + timeout.toSeconds() + " s; turned off");
            }
            return vm.status();
        } finally {
            vm.lock().unlock();
        }
    }

    public VmStatus shutDown(String id) {
        return shutDown(id, settings.shutdownTimeout());
    }

    /** Lets go of every worker without stopping it: the VMs go on running without the engine. */
    @Override
    public void close() {
        supervisor.close();
        for (ManagedVm vm : vms.values()) {
            Worker worker = vm.worker();
            if (worker != null) {
                worker.detach();
            }
        }
        cgroups.close();
    }

    // ---------------------------------------------------------------- how actions are carried out

    private interface Action {
        void run(ManagedVm vm);
    }

    private VmStatus act(String id, VmAction action, Action body) {
        ManagedVm vm = get(id);
        vm.lock().lock();
        try {
            VmStateMachine.check(action, vm.state(), vm.name());
            vm.requireAnswering(action);
            body.run(vm);
            return vm.status();
        } finally {
            vm.lock().unlock();
        }
    }

    private void boot(ManagedVm vm) {
        vm.transition(VmState.STARTING, "start requested");
        Worker worker = supervisor.launch(vm, false, WorkerPhase.LAUNCHING);
        try {
            vm.command(QemuMonitor::cont);
        } catch (VmOperationException e) {
            throw supervisor.failAndEnd(vm, worker, VmState.OFF, "the worker could not be resumed: " + e.getMessage());
        }
        supervisor.recordPhase(vm, vm.record().withPhase(WorkerPhase.SUPERVISED));
        vm.transition(VmState.RUNNING, "worker " + worker.pid() + " started");
    }

    private ManagedVm manage(VmDefinition def, VmFiles files) {
        return new ManagedVm(def, files, hostname, clock, this::publish, settings.commandTimeout(), store);
    }

    private ManagedVm get(String id) {
        ManagedVm vm = id == null ? null : vms.get(id);
        if (vm == null) {
            throw new VmNotFoundException(id);
        }
        return vm;
    }

    private void publish(VmEvent event) {
        for (Consumer<VmEvent> listener : listeners) {
            try {
                listener.accept(event);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "a VM event listener failed on " + event, e);
            }
        }
    }

    private Path resolve(Path path) {
        try {
            return storage.resolve(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stores paths absolute, so a definition means the same files whatever the working directory. */
    private VmDefinition absolutePaths(VmDefinition def) {
        validator.validate(def);
        List<Disk> disks = def.disks().stream().map(this::absolute).toList();
        return new VmDefinition(def.id(), def.name(), def.vcpus(), def.memoryMib(), def.profile(), disks,
                def.nics(), absoluteBoot(def), def.display(), def.firmware(), def.resources(), absolute(def.cdrom()),
                def.maxVcpus(), def.maxMemoryMib(), def.memoryDimmsMib());
    }

    /**
     * The boot image of an ISO-boot VM whose drive holds something else (or nothing) is history: kept as it was
     * stored, never resolved, since the library may have let the file go.
     */
    private BootSource absoluteBoot(VmDefinition def) {
        if (def.boot() instanceof BootSource.Iso iso && def.cdrom() != null && !iso.image().equals(def.cdrom().medium())) {
            return iso;
        }
        return absolute(def.boot());
    }

    private CdRom absolute(CdRom cdrom) {
        return cdrom == null || cdrom.isEmpty() ? cdrom : new CdRom(resolve(cdrom.medium()));
    }

    /** A checked disk with its paths absolute and link-free: a host device by the path of its node under /dev. */
    private Disk absolute(Disk disk) {
        return disk.at(resolve(disk.path()), absolute(disk.backing()));
    }

    private Disk.Backing absolute(Disk.Backing backing) {
        return backing == null ? null : new Disk.Backing(resolve(backing.path()), backing.format());
    }

    private BootSource absolute(BootSource boot) {
        return switch (boot) {
            case BootSource.Kernel k -> new BootSource.Kernel(resolve(k.kernel()),
                    k.initramfs() == null ? null : resolve(k.initramfs()), k.commandLine());
            case BootSource.FirstDisk d -> d;
            case BootSource.Iso iso -> new BootSource.Iso(resolve(iso.image()));
        };
    }

}
