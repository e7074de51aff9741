package io.hypervise.server.vm;

import io.hypervise.engine.storage.DiskImages;
import io.hypervise.engine.storage.NewImage;
import io.hypervise.engine.template.NoCloudSeed;
import io.hypervise.server.library.ItemKind;
import io.hypervise.server.library.Library;
import io.hypervise.server.library.LibraryItemEntity;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.server.api.FieldError;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.inventory.VmSettings;
import io.hypervise.server.network.SwitchAllowance;
import io.hypervise.server.network.Switches;
import io.hypervise.server.policy.SelfServicePolicies;
import io.hypervise.server.template.TemplateEntity;
import io.hypervise.server.template.Templates;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/** Turns a client's {@link VmRequest} into an engine definition, or names every field that is wrong. */
@ApplicationScoped
public class VmRequests {

    private static final SecureRandom RANDOM = new SecureRandom();
    static final long MAX_BLANK_DISK_MIB = DiskImages.MAX_BYTES >> 20;

    @Inject
    Templates templates;

    @Inject
    Switches switches;

    @Inject
    CurrentCaller current;

    @Inject
    SelfServicePolicies policies;

    @Inject
    Library library;

    /**
     * A VM to define, the images to make for it (by disk position: blank, linked clones, copies), its
     * template, the library items its disks are made from (by position) and the library ISO it boots.
     */
    public record NewVm(VmDefinition definition, Map<Integer, NewImage> newImages, String templateId,
            Map<Integer, String> diskItems, String bootItem) {

        public NewVm {
            newImages = Map.copyOf(newImages);
            diskItems = diskItems == null ? Map.of() : Map.copyOf(diskItems);
        }

        public NewVm(VmDefinition definition, Map<Integer, Long> blankDiskBytes, String templateId) {
            this(definition, NewImage.blanks(blankDiskBytes), templateId, Map.of(), null);
        }

        /** Whether making it copies images, which takes time in proportion to their data: a job. */
        public boolean copies() {
            return newImages.values().stream().anyMatch(i -> i instanceof NewImage.Copy);
        }

        /** The library items it uses, for its policy check. */
        public java.util.Set<String> libraryItems() {
            java.util.Set<String> items = new java.util.TreeSet<>(diskItems.values());
            if (bootItem != null) {
                items.add(bootItem);
            }
            return items;
        }
    }

    /**
     * The VM a request asks for. A template gives the defaults (processors, memory, profile, display)
     * and the boot source; its files are built, if they must be (and {@code buildTemplate}), only once the
     * rest of the request is valid.
     */
    public NewVm toNewVm(VmRequest request, boolean buildTemplate) {
        if (request == null) {
            throw new InvalidRequestException("VM definition", List.of(new FieldError("body", "is required: a JSON object describing the VM")));
        }
        List<FieldError> v = new ArrayList<>();
        byte[] idBytes = new byte[4];
        RANDOM.nextBytes(idBytes);
        String id = "vm-" + HexFormat.of().formatHex(idBytes);
        TemplateEntity template = template(request, v);
        DeviceProfile profile = parse("profile", request.profile(), DeviceProfile.class,
                template == null ? DeviceProfile.ENLIGHTENED : template.profile, v);
        Display display = parse("display", request.display(), Display.class, template == null ? Display.VNC : template.display, v);
        Firmware firmware = parse("firmware", request.firmware(), Firmware.class, template == null ? Firmware.BIOS : template.firmware, v);
        Map<Integer, NewImage> images = new TreeMap<>();
        Map<Integer, String> diskItems = new TreeMap<>();
        List<Disk> disks = disks(request, images, diskItems, v);
        if (template != null) {
            List<Templates.BaseDisk> bases = templates.baseDisks(template);
            if (template.id.equals(Templates.DEBIAN) && bases.isEmpty()) {
                v.add(new FieldError("template", "the debian-12 template is not built on this host yet; an administrator"
                        + " builds it with POST /api/v1/templates/debian-12/build (about 4 minutes, once)"));
            } else if (!bases.isEmpty()) {
                disks = withTemplateDisks(bases, disks, images, diskItems);
            }
        }
        if (request.guest() != null) {
            disks = withSeed(request.guest(), id, disks, images, v);
        }
        List<Nic> nics = nics(request, v);
        String[] bootItem = new String[1];
        BootSource boot = template == null ? boot(request, bootItem, v) : null;
        if (!v.isEmpty()) {
            throw new InvalidRequestException("VM definition", v);
        }
        if (template != null) {
            // A dry run does not build the template's files; it only needs to know where they will be.
            boot = buildTemplate ? templates.bootSource(template) : templates.localBoot(template);
        }
        String name = request.name() == null ? (template != null ? template.id + " " + id.substring(3) : null) : request.name();
        int vcpus = request.vcpus() != null ? request.vcpus() : template != null ? template.vcpus : 1;
        int memoryMib = request.memoryMib() != null ? request.memoryMib() : template != null ? template.memoryMib : 256;
        return new NewVm(new VmDefinition(id, name, vcpus, memoryMib, profile, disks, nics, boot, display, firmware,
                request.resources() == null ? Resources.NONE : request.resources(), null, request.maxVcpus(),
                request.maxMemoryMib(), List.of()), images,
                template == null ? null : template.id, diskItems, bootItem[0]);
    }

    /** The adapters asked for (one on the isolated network if none are); a switch must exist and may be chosen. */
    private List<Nic> nics(VmRequest request, List<FieldError> v) {
        if (request.nics() == null) {
            return List.of(new Nic(Nic.randomMac()));
        }
        return nics(request.nics(), v).stream()
                .map(n -> n.mac() == null ? new Nic(Nic.randomMac(), n.switchId(), n.vlan()) : n).toList();
    }

    /**
     * The adapters as asked for, checked; a MAC left out stays null (a new VM gets a random one, a changed
     * one keeps its adapter's). A null element keeps the invalid MAC the engine reports.
     */
    private List<Nic> nics(List<VmRequest.NicRequest> requested, List<FieldError> v) {
        // Asked once, and only if an adapter names a switch: it may read the caller's policies.
        SwitchAllowance allowance = requested.stream().anyMatch(n -> n != null && n.switchId() != null)
                ? switches.allowanceOf(current.get()) : SwitchAllowance.NONE;
        List<Nic> nics = new ArrayList<>();
        for (int i = 0; i < requested.size(); i++) {
            VmRequest.NicRequest n = requested.get(i);
            if (n == null) {
                v.add(new FieldError("nics[" + i + "]", "must be an object: {\"mac\": …, \"switch\": …}, both optional"));
                continue;
            }
            String mac = n.mac() == null ? null : n.mac().toLowerCase(Locale.ROOT);
            String switchId = n.switchId();
            String field = "nics[" + i + "].switch";
            if (switchId != null) {
                allowance.refusal(switchId)
                        .or(() -> switches.find(switchId).isEmpty()
                                ? Optional.of("no virtual switch '" + switchId + "'; see GET /api/v1/switches") : Optional.empty())
                        .ifPresent(why -> v.add(new FieldError(field, why)));
            }
            nics.add(new Nic(mac, switchId, n.vlan()));
        }
        return nics;
    }

    /**
     * The adapter to add to a VM, checked as a new VM's are (the switch exists and the caller may use it), with
     * fields named as the request names them; a MAC left out stays null (the service picks one).
     */
    public Nic toNic(VmRequest.NicRequest request) {
        if (request == null) {
            throw new InvalidRequestException("network adapter", List.of(new FieldError("body",
                    "is required: {\"switch\": …, \"vlan\": …, \"mac\": …}, each optional (none: the isolated network)")));
        }
        List<FieldError> v = new ArrayList<>();
        String switchId = request.switchId();
        if (switchId != null) {
            switches.allowanceOf(current.get()).refusal(switchId)
                    .or(() -> switches.find(switchId).isEmpty()
                            ? Optional.of("no virtual switch '" + switchId + "'; see GET /api/v1/switches") : Optional.empty())
                    .ifPresent(why -> v.add(new FieldError("switch", why)));
        }
        if (request.vlan() != null && switchId == null) {
            v.add(new FieldError("vlan", "needs a switch: VLANs are carried by virtual switches"));
        }
        if (!v.isEmpty()) {
            throw new InvalidRequestException("network adapter", v);
        }
        return new Nic(request.mac() == null ? null : request.mac().toLowerCase(Locale.ROOT), switchId, request.vlan());
    }

    private TemplateEntity template(VmRequest request, List<FieldError> v) {
        if (request.template() == null) {
            return null;
        }
        if (request.boot() != null) {
            v.add(new FieldError("boot", "give either a template or a boot source, not both"));
        }
        Optional<TemplateEntity> found = templates.find(request.template());
        if (found.isEmpty()) {
            v.add(new FieldError("template", "no template '" + request.template() + "'; see GET /api/v1/templates"));
        }
        return found.orElse(null);
    }

    /** The settings to change; values that cannot be right are reported by field, ranges by the engine. */
    public VmSettings toSettings(VmSettingsRequest request) {
        if (request == null) {
            throw new InvalidRequestException("VM definition", List.of(new FieldError("body",
                    "is required: a JSON object with the settings to change (name, vcpus, memoryMib, profile, display)")));
        }
        List<FieldError> v = new ArrayList<>();
        DeviceProfile profile = parse("profile", request.profile(), DeviceProfile.class, null, v);
        Display display = parse("display", request.display(), Display.class, null, v);
        if (request.name() == null && request.vcpus() == null && request.memoryMib() == null && request.profile() == null
                && request.display() == null && request.nics() == null && request.maxVcpus() == null
                && request.maxMemoryMib() == null) {
            v.add(new FieldError("body", "names no setting to change; give one or more of name, vcpus, memoryMib, maxVcpus,"
                    + " maxMemoryMib, profile, display, nics"));
        }
        List<Nic> nics = null;
        if (request.nics() != null) {
            Caller caller = current.get();
            if (caller.reach(Permission.SWITCH_MANAGE) != Reach.ALL && !policies.govern(caller, Permission.VM_RECONFIGURE)) {
                v.add(new FieldError("nics", "changing a VM's network adapters is for administrators and for the VM's"
                        + " owner where their policies name switches"));
            } else {
                nics = nics(request.nics(), v);
            }
        }
        if (!v.isEmpty()) {
            throw new InvalidRequestException("VM definition", v);
        }
        return new VmSettings(request.name(), request.vcpus(), request.memoryMib(), profile, display, nics,
                request.maxVcpus(), request.maxMemoryMib());
    }

    private BootSource boot(VmRequest request, String[] bootItem, List<FieldError> v) {
        VmRequest.Boot boot = request.boot();
        if (boot == null || boot.kind() == null) {
            v.add(new FieldError("boot.kind", "is required (kernel, disk or iso) unless a template is given"));
            return null;
        }
        if (boot.library() != null) {
            if (!"iso".equalsIgnoreCase(boot.kind())) {
                v.add(new FieldError("boot.library", "names an ISO image to boot from: only with kind iso"));
                return null;
            }
            if (boot.image() != null) {
                v.add(new FieldError("boot.image", "give either an image path or a library ISO, not both"));
                return null;
            }
            return library.usable(current.get(), boot.library(), ItemKind.ISO, "boot.library", v).map(item -> {
                bootItem[0] = item.id;
                return (BootSource) new BootSource.Iso(library.pathOf(item));
            }).orElse(null);
        }
        return switch (boot.kind().toLowerCase(Locale.ROOT)) {
            case "kernel" -> new BootSource.Kernel(path("boot.kernel", boot.kernel(), v),
                    path("boot.initramfs", boot.initramfs(), v), boot.commandLine());
            case "disk" -> new BootSource.FirstDisk();
            case "iso" -> new BootSource.Iso(path("boot.image", boot.image(), v));
            default -> {
                v.add(new FieldError("boot.kind", "must be kernel, disk or iso; got '" + boot.kind() + "'"));
                yield null;
            }
        };
    }

    /** A disk to add to an existing VM: the disk, the image to make for it (null: an existing image) and its library item. */
    public record NewDisk(Disk disk, NewImage image, String libraryItem) {

        /** Whether making it copies an image, which takes time in proportion to its data: a job. */
        public boolean copies() {
            return image instanceof NewImage.Copy;
        }
    }

    /** The disk a request to add one asks for, checked by the same rules as a new VM's disks. */
    public NewDisk toNewDisk(VmRequest.DiskRequest request) {
        if (request == null) {
            throw new InvalidRequestException("disk", List.of(new FieldError("body", "is required: a JSON object describing"
                    + " the disk, as an item of a new VM's disks (sizeMib and format, library, or path and format)")));
        }
        List<FieldError> v = new ArrayList<>();
        Map<Integer, NewImage> images = new TreeMap<>();
        Map<Integer, String> items = new TreeMap<>();
        List<Disk> disks = disks(new VmRequest(null, null, null, null, null, null, null, List.of(request), null), images, items, v);
        List<FieldError> renamed = v.stream().map(e -> new FieldError(e.field().replaceFirst("^disks\\[0]\\.?", ""), e.message()))
                .map(e -> e.field().isEmpty() ? new FieldError("body", e.message()) : e).toList();
        if (!renamed.isEmpty()) {
            throw new InvalidRequestException("disk", renamed);
        }
        return new NewDisk(disks.get(0), images.get(0), items.get(0));
    }

    private List<Disk> disks(VmRequest request, Map<Integer, NewImage> images, Map<Integer, String> items, List<FieldError> v) {
        if (request.disks() == null) {
            return List.of();
        }
        List<Disk> disks = new ArrayList<>();
        for (int i = 0; i < request.disks().size(); i++) {
            VmRequest.DiskRequest d = request.disks().get(i);
            String field = "disks[" + i + "]";
            if (d == null) {
                v.add(new FieldError(field, "must be an object with a format and either a path or a sizeMib"));
                continue;
            }
            if (d.device() != null) {
                disks.add(hostDevice(d, field, v));
                continue;
            }
            if (d.library() != null) {
                disks.add(fromLibrary(d, i, images, items, v));
                continue;
            }
            if (d.cloning() != null) {
                v.add(new FieldError(field + ".clone", "is for disks made from a library image (library)"));
            }
            DiskFormat format = parse(field + ".format", d.format(), DiskFormat.class, null, v);
            if (d.format() == null) {
                v.add(new FieldError(field + ".format", "is required: raw, qcow2, vhd or vhdx (it is never guessed)"));
            }
            if (d.sizeMib() == null) {
                disks.add(new Disk(path(field + ".path", d.path(), v), format, Boolean.TRUE.equals(d.readOnly())));
                continue;
            }
            if (d.path() != null) {
                v.add(new FieldError(field, "give either a path (an existing image) or a sizeMib (a new blank disk), not both"));
            } else if (d.sizeMib() < 1 || d.sizeMib() > MAX_BLANK_DISK_MIB) {
                v.add(new FieldError(field + ".sizeMib", "must be from 1 to " + MAX_BLANK_DISK_MIB + " (64 TiB); got " + d.sizeMib()));
            } else if (Boolean.TRUE.equals(d.readOnly())) {
                v.add(new FieldError(field + ".readOnly", "a new blank disk cannot be read-only: nothing could ever be written on it"));
            } else {
                images.put(i, new NewImage.Blank(d.sizeMib() << 20));
            }
            disks.add(new Disk(null, format, false));
        }
        return disks;
    }

    /**
     * A template stored from a VM: a linked clone of each of its disk images comes first, then the disks
     * the request adds (whose positions, and what is made for them, move up).
     */
    private static List<Disk> withTemplateDisks(List<Templates.BaseDisk> bases, List<Disk> requested,
            Map<Integer, NewImage> images, Map<Integer, String> items) {
        int k = bases.size();
        Map<Integer, NewImage> shiftedImages = new TreeMap<>();
        Map<Integer, String> shiftedItems = new TreeMap<>();
        images.forEach((position, image) -> shiftedImages.put(position + k, image));
        items.forEach((position, item) -> shiftedItems.put(position + k, item));
        List<Disk> disks = new ArrayList<>();
        for (Templates.BaseDisk base : bases) {
            if (base.libraryItem() != null) {
                shiftedItems.put(disks.size(), base.libraryItem());
            }
            shiftedImages.put(disks.size(), new NewImage.LinkedClone(base.path(), base.format(), base.bytes()));
            disks.add(new Disk(null, DiskFormat.QCOW2, false));
        }
        disks.addAll(requested);
        images.clear();
        images.putAll(shiftedImages);
        items.clear();
        items.putAll(shiftedItems);
        return disks;
    }

    /**
     * What the guest is to apply at its first boot (host name, user, SSH keys, password hash), as a NoCloud
     * seed volume after the VM's other disks: cloud-init reads it, and so does the debian-12 template.
     */
    private static List<Disk> withSeed(VmRequest.Guest guest, String vmId, List<Disk> disks, Map<Integer, NewImage> images,
            List<FieldError> v) {
        if (guest.hostName() == null) {
            v.add(new FieldError("guest.hostName", "is required: the guest's host name"));
            return disks;
        }
        Optional<NoCloudSeed.User> user = Optional.empty();
        try {
            if (guest.user() != null) {
                user = Optional.of(new NoCloudSeed.User(guest.user(), guest.sshAuthorizedKeys() == null ? List.of()
                        : guest.sshAuthorizedKeys(), Optional.ofNullable(guest.passwordHash()), true));
            } else if (guest.sshAuthorizedKeys() != null || guest.passwordHash() != null) {
                v.add(new FieldError("guest.user", "is required with SSH keys or a password hash: whose they are"));
                return disks;
            }
            NoCloudSeed seed = new NoCloudSeed(vmId, guest.hostName(), user);
            List<Disk> withSeed = new ArrayList<>(disks);
            images.put(withSeed.size(), new NewImage.Seed(seed));
            withSeed.add(new Disk(null, DiskFormat.RAW, false));
            return withSeed;
        } catch (IllegalArgumentException e) {
            v.add(new FieldError("guest", e.getMessage()));
            return disks;
        }
    }

    /**
     * A whole block device of the host, passed through raw; whether the host may give it (and the caller may
     * ask) is the engine's and the service's to say.
     */
    private static Disk hostDevice(VmRequest.DiskRequest d, String field, List<FieldError> v) {
        if (d.path() != null || d.sizeMib() != null || d.library() != null || d.cloning() != null) {
            v.add(new FieldError(field, "give either a device (a host block device, whole) or an image (path, sizeMib or"
                    + " library), not both"));
        }
        if (d.format() != null && !d.format().equalsIgnoreCase("raw")) {
            v.add(new FieldError(field + ".format", "a host device is passed through raw; leave format out or say raw"));
        }
        return Disk.hostDevice(path(field + ".device", d.device(), v), Boolean.TRUE.equals(d.readOnly()));
    }

    /**
     * A disk made from a library disk image: a linked clone by default (qcow2 over the read-only image),
     * or a full copy in the format asked for (qcow2 by default); at least as large as the image.
     */
    private Disk fromLibrary(VmRequest.DiskRequest d, int i, Map<Integer, NewImage> images, Map<Integer, String> items,
            List<FieldError> v) {
        String field = "disks[" + i + "]";
        if (d.path() != null) {
            v.add(new FieldError(field, "give either a path, a sizeMib or a library image; path and library together name two images"));
        }
        if (Boolean.TRUE.equals(d.readOnly())) {
            v.add(new FieldError(field + ".readOnly", "a disk made from a library image is the VM's own and writable;"
                    + " the library image itself is never written"));
        }
        String clone = d.cloning() == null ? "linked" : d.cloning().toLowerCase(Locale.ROOT);
        if (!clone.equals("linked") && !clone.equals("full")) {
            v.add(new FieldError(field + ".clone", "must be linked (an overlay on the library image) or full (a copy); got '" + d.cloning() + "'"));
        }
        DiskFormat format = parse(field + ".format", d.format(), DiskFormat.class, DiskFormat.QCOW2, v);
        if (clone.equals("linked") && format != DiskFormat.QCOW2) {
            v.add(new FieldError(field + ".format", "a linked clone is qcow2 (an overlay); leave format out or say qcow2"));
        } else if (format != DiskFormat.QCOW2 && format != DiskFormat.RAW) {
            v.add(new FieldError(field + ".format", "a copy is made as qcow2 or raw, the formats VMs run on"));
        }
        Optional<LibraryItemEntity> item = library.usable(current.get(), d.library(), ItemKind.DISK, field + ".library", v);
        if (item.isEmpty()) {
            return new Disk(null, format, false);
        }
        long bytes = item.get().virtualBytes;
        if (d.sizeMib() != null) {
            if (d.sizeMib() < 1 || d.sizeMib() > MAX_BLANK_DISK_MIB || d.sizeMib() << 20 < bytes) {
                v.add(new FieldError(field + ".sizeMib", "must be at least the library image's " + ((bytes + (1 << 20) - 1) >> 20)
                        + " MiB and at most " + MAX_BLANK_DISK_MIB + "; got " + d.sizeMib()));
            } else {
                bytes = d.sizeMib() << 20;
            }
        }
        Path base = library.pathOf(item.get());
        items.put(i, item.get().id);
        images.put(i, clone.equals("full") ? new NewImage.Copy(base, item.get().format, bytes)
                : new NewImage.LinkedClone(base, item.get().format, bytes));
        return new Disk(null, clone.equals("full") ? format : DiskFormat.QCOW2, false);
    }

    /** A path as given; one the file system cannot even name (a NUL in it) is recorded as a violation. */
    private static Path path(String field, String value, List<FieldError> v) {
        if (value == null) {
            return null;
        }
        try {
            return Path.of(value);
        } catch (InvalidPathException e) {
            v.add(new FieldError(field, "is not a usable path: " + e.getReason()));
            return null;
        }
    }

    private static <E extends Enum<E>> E parse(String field, String value, Class<E> type, E fallback, List<FieldError> v) {
        if (value == null) {
            return fallback;
        }
        Function<E, String> name = e -> e.name().toLowerCase(Locale.ROOT);
        return Arrays.stream(type.getEnumConstants())
                .filter(e -> name.apply(e).equals(value.toLowerCase(Locale.ROOT)))
                .findFirst()
                .orElseGet(() -> {
                    v.add(new FieldError(field, "must be one of " + Arrays.stream(type.getEnumConstants()).map(name).toList()
                            + "; got '" + value + "'"));
                    return fallback;
                });
    }

    /** A locally administered unicast MAC in QEMU's 52:54:00 range. */
}
