package io.hypervise.server.vm;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.hypervise.engine.Engine;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.storage.ImageFormat;
import io.hypervise.engine.storage.NewImage;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.VmAccess;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.ResourceColumns;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.VmConflictException;
import io.hypervise.server.inventory.VmEntity;
import io.hypervise.server.inventory.VmRepository;
import io.hypervise.server.network.Switches;
import io.hypervise.server.policy.PolicyDeniedException;
import io.hypervise.server.template.TemplateEntity;
import io.hypervise.server.template.Templates;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.jboss.logging.Logger;

/**
 * Export and import of a VM as one archive ({@link VmArchive}): its definition and its disks, so it can
 * move between hosts or installations. Both stream: an export is read from the VM's own images while it
 * is sent, an import is written to a staging folder in the storage root while it is received, and
 * neither is ever held in memory.
 *
 * <p>An export holds the VM Off (marked as being exported, so every action on it is refused) until the
 * last byte is sent or the download stops, and is audited as requested, then as its outcome. An import is
 * a creation: the same policy check and quota (before a byte of disk is written, and again under the
 * owner's quota lock), the same intent-first record, its disks the VM's own. Whatever a stopped transfer
 * or a refused archive leaves is deleted at once, and at the next start after a crash.
 */
@ApplicationScoped
public class VmArchives {

    private static final Logger LOG = Logger.getLogger(VmArchives.class);
    private static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
    private static final int BUFFER = 1 << 20;

    @Inject
    Engine engine;

    @Inject
    VmRepository vms;

    @Inject
    VmAccess access;

    @Inject
    VmService service;

    @Inject
    VmRequests requests;

    @Inject
    AuditLog audit;

    @Inject
    Templates templates;

    @Inject
    Switches switches;

    @Inject
    LocalHost localHost;

    @Inject
    ServerConfig config;

    /** An export ready to send: its file name, its exact length, and the body that writes it. */
    public record Export(String fileName, long length, StreamingOutput body) {

        /** The download, for the API and the pages alike: a tar of known length, saved under its file name. */
        public jakarta.ws.rs.core.Response response() {
            return jakarta.ws.rs.core.Response.ok(body, "application/x-tar")
                    .header("Content-Length", length)
                    .header("Content-Disposition", "attachment; filename=\"" + fileName + "\"")
                    .build();
        }
    }

    /** What an import made: the VM, and what of the archive it could not carry over or changed, in words. */
    public record Imported(VmView vm, List<String> notCarried) {
    }

    /** Removes what transfers interrupted by a crash left in the staging folders. */
    void removeLeftovers(@Observes StartupEvent event) {
        for (Path dir : List.of(exportsDir(), importsDir())) {
            try {
                if (Files.isDirectory(dir)) {
                    FileTrees.delete(dir);
                    LOG.infof("removed what interrupted VM transfers left in %s", dir);
                }
            } catch (IOException e) {
                LOG.warnf("cannot remove %s: %s", dir, e.getMessage());
            }
        }
    }

    // ---------------------------------------------------------------- export

    /**
     * Prepares the export of an Off VM: marks it as being exported (every action refused meanwhile), records
     * the request, and makes each disk that is not already a self-contained qcow2 into one (a linked clone
     * flattened, a raw image converted). The archive's length is known before its first byte.
     */
    public Export export(Caller caller, String id) {
        String action = VmOperation.EXPORT.auditName();
        String target = AuditLog.vm(id);
        record Held(VmDefinition definition, String templateId, boolean checkpoints) {
        }
        Held held = QuarkusTransaction.requiringNew().call(() -> {
            VmEntity vm = access.require(caller, id, VmOperation.EXPORT);
            service.requireActionable(vm);
            VmStatus status = engine.vms().status(vm.id);
            if (status.state() != VmState.OFF) {
                throw new VmConflictException("VM '" + vm.name + "' is " + status.state().displayName()
                        + "; it is exported while it is Off, so its disks hold still");
            }
            service.refuseWithHostDevices(caller, action, target, vm, "exported");
            vms.markPending(vm.id, VmEntity.Pending.EXPORTING);
            audit.record(caller, action, target, Map.of("name", vm.name), AuditOutcome.REQUESTED, null);
            return new Held(status.definition(), vm.templateId,
                    io.hypervise.server.checkpoint.CheckpointEntity.count("vmId", vm.id) > 0);
        });
        VmDefinition vm = held.definition();
        Path work = exportsDir().resolve(UUID.randomUUID().toString());
        try {
            List<Path> sources = new ArrayList<>();
            List<VmArchive.ArchivedDisk> disks = new ArrayList<>();
            for (int i = 0; i < vm.disks().size(); i++) {
                Disk disk = vm.disks().get(i);
                Path source = disk.path();
                // Checkpoints live inside the VM's qcow2 files; a copy leaves them (and their memory) behind.
                if (disk.format() != DiskFormat.QCOW2 || disk.backing() != null || held.checkpoints()) {
                    source = work.resolve("disk" + i + ".qcow2");
                    engine.images().flatten(disk, source, DiskFormat.QCOW2, p -> { });
                }
                long virtualBytes = engine.images().inspect(source, ImageFormat.QCOW2).virtualBytes();
                sources.add(source);
                disks.add(new VmArchive.ArchivedDisk(VmArchive.diskEntry(i), "qcow2", Files.size(source), virtualBytes,
                        disk.readOnly()));
            }
            Optional<Path> uefi = vm.firmware() == Firmware.UEFI ? engine.vms().uefiVariables(id) : Optional.empty();
            List<String> notCarried = new ArrayList<>();
            if (!vm.resources().isNone()) {
                notCarried.add("its resource controls (" + ResourceColumns.describe(vm.resources())
                        + "): they are the host's to set, by its administrators");
            }
            VmArchive manifest = new VmArchive(VmArchive.FORMAT, VmArchive.VERSION, Instant.now(), localHost.id(),
                    caller.username(), new VmArchive.Vm(vm.name(), vm.vcpus(), vm.memoryMib(), lower(vm.profile()),
                            lower(vm.display()), lower(vm.firmware()), boot(vm, held.templateId(), notCarried), disks,
                            vm.nics().stream().map(n -> new VmArchive.ArchivedNic(n.mac(), n.switchId(), n.vlan())).toList()),
                    uefi.map(f -> VmArchive.UEFI_VARIABLES).orElse(null), uefi.isPresent() ? Files.size(uefi.get()) : null,
                    notCarried);
            byte[] manifestBytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(manifest);
            Map<String, Path> files = new LinkedHashMap<>();
            for (int i = 0; i < sources.size(); i++) {
                files.put(VmArchive.diskEntry(i), sources.get(i));
            }
            uefi.ifPresent(f -> files.put(VmArchive.UEFI_VARIABLES, f));
            List<String> summed = new ArrayList<>();
            summed.add(VmArchive.MANIFEST);
            summed.addAll(files.keySet());
            long length = VmArchive.archiveLength(manifestBytes.length, manifest.payload(), VmArchive.sumsLength(summed));
            String fileName = fileName(vm.name()) + VmArchive.SUFFIX;
            LOG.infof("VM '%s' (%s): export of %d bytes to %s begins on host %s", vm.name(), id, length, caller.username(),
                    localHost.id());
            return new Export(fileName, length, out -> send(caller, vm, work, manifestBytes, files, length, out));
        } catch (IOException | RuntimeException e) {
            endExport(caller, vm, work, e.getMessage());
            throw e instanceof RuntimeException r ? r
                    : new VmConflictException("VM '" + vm.name() + "' cannot be exported: " + e.getMessage());
        }
    }

    private void send(Caller caller, VmDefinition vm, Path work, byte[] manifest, Map<String, Path> files, long length,
            OutputStream out) throws IOException {
        String error = "the download stopped";
        try {
            TarArchiveOutputStream tar = new TarArchiveOutputStream(new NoClose(out), VmArchive.RECORD);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_STAR);
            Map<String, byte[]> digests = new LinkedHashMap<>();
            digests.put(VmArchive.MANIFEST, sha256(manifest));
            put(tar, VmArchive.MANIFEST, manifest);
            byte[] buffer = new byte[BUFFER];
            for (Map.Entry<String, Path> file : files.entrySet()) {
                MessageDigest digest = sha256();
                long size = Files.size(file.getValue());
                TarArchiveEntry entry = new TarArchiveEntry(file.getKey());
                entry.setSize(size);
                entry.setMode(0640);
                entry.setModTime(System.currentTimeMillis());
                tar.putArchiveEntry(entry);
                try (InputStream in = Files.newInputStream(file.getValue())) {
                    int n;
                    long sent = 0;
                    while (sent < size && (n = in.read(buffer, 0, (int) Math.min(buffer.length, size - sent))) > 0) {
                        digest.update(buffer, 0, n);
                        tar.write(buffer, 0, n);
                        sent += n;
                    }
                    if (sent != size) {
                        throw new IOException(file.getValue() + " changed while it was sent");
                    }
                }
                tar.closeArchiveEntry();
                digests.put(file.getKey(), digest.digest());
            }
            put(tar, VmArchive.SUMS, VmArchive.sums(digests).getBytes(StandardCharsets.US_ASCII));
            tar.finish();
            tar.flush();
            error = null;
            LOG.infof("VM '%s' (%s): exported (%d bytes) to %s", vm.name(), vm.id(), length, caller.username());
        } catch (IOException | RuntimeException e) {
            error = "the download stopped: " + e.getMessage();
            throw e;
        } finally {
            endExport(caller, vm, work, error);
        }
    }

    /** Lets the VM be used again, removes what the export made, and records how it ended. */
    private void endExport(Caller caller, VmDefinition vm, Path work, String error) {
        try {
            FileTrees.delete(work);
        } catch (IOException e) {
            LOG.warnf("VM '%s' (%s): cannot remove the export's work folder %s: %s", vm.name(), vm.id(), work, e.getMessage());
        }
        vms.markPending(vm.id(), null);
        audit.recordOutcome(caller, VmOperation.EXPORT.auditName(), AuditLog.vm(vm.id()), Map.of("name", vm.name()), error);
        if (error != null) {
            LOG.infof("VM '%s' (%s): export to %s ended without completing: %s", vm.name(), vm.id(), caller.username(), error);
        }
    }

    /** How the archive says the VM boots; an ISO in its CD-ROM is not carried (it boots from its first disk). */
    private VmArchive.Boot boot(VmDefinition vm, String templateId, List<String> notCarried) {
        return switch (vm.boot()) {
            case BootSource.FirstDisk d -> new VmArchive.Boot("disk", null, null, null, null);
            case BootSource.Iso iso -> {
                notCarried.add("the ISO image in its CD-ROM (" + iso.image().getFileName() + "): media are not carried;"
                        + " the VM boots from its first disk");
                yield new VmArchive.Boot("disk", null, null, null, null);
            }
            case BootSource.Kernel k -> {
                Optional<TemplateEntity> template = Optional.ofNullable(templateId).flatMap(templates::find);
                if (template.isPresent() && templates.localBoot(template.get()) instanceof BootSource.Kernel t
                        && t.kernel().equals(k.kernel())) {
                    yield new VmArchive.Boot("kernel", template.get().id, null, null, k.commandLine());
                }
                yield new VmArchive.Boot("kernel", null, relative(k.kernel()), relative(k.initramfs()), k.commandLine());
            }
        };
    }

    private String relative(Path path) {
        if (path == null) {
            return null;
        }
        Path root = engine.storage().path();
        return path.startsWith(root) ? root.relativize(path).toString() : path.toString();
    }

    // ---------------------------------------------------------------- import

    /**
     * Creates a VM from an archive read from {@code body}: the manifest first (checked, and the VM it
     * describes checked as a creation would be, policies and quota included, before a byte of disk is
     * written), then each disk into a staging folder (of exactly the length the manifest gives, its
     * SHA-256 compared with the archive's sums, its header read by our own code: a qcow2 that names a
     * backing file or an external data file is refused), then the VM defined with those disks as its own.
     *
     * @param name the new VM's name; the archive's if null
     */
    public Imported importArchive(Caller caller, InputStream body, String name) {
        Path work = importsDir().resolve(UUID.randomUUID().toString());
        try {
            Files.createDirectories(work);
            TarArchiveInputStream tar = new TarArchiveInputStream(body);
            VmArchive manifest = manifest(tar);
            List<String> notCarried = new ArrayList<>(manifest.notCarried() == null ? List.of() : manifest.notCarried());
            VmRequests.NewVm planned = plan(caller, manifest, name, work, notCarried);
            VmService.CreateCheck check = service.check(caller, planned);
            if (!check.allowed()) {
                audit.recordDenial(caller, VmOperation.IMPORT.auditName(), null, Map.of("name", planned.definition().name()),
                        String.join("; ", check.reasons()));
                throw new PolicyDeniedException(check.reasons());
            }
            checkSpace(manifest.payload().values().stream().mapToLong(Long::longValue).sum());
            receive(tar, manifest, work);
            Map<String, Object> origin = new LinkedHashMap<>();
            origin.put("archiveFrom", manifest.exportedFrom());
            origin.put("archivedAt", String.valueOf(manifest.exportedAt()));
            VmService.Done done = service.importVm(caller, planned, origin);
            String id = done.vm().id();
            if (manifest.uefiVariables() != null) {
                try {
                    engine.vms().adoptUefiVariables(id, work.resolve(VmArchive.UEFI_VARIABLES));
                } catch (RuntimeException e) {
                    service.delete(caller, id);
                    throw e;
                }
            }
            LOG.infof("VM '%s' (%s) imported by %s on host %s from an archive of host %s", done.vm().name(), id,
                    caller.username(), localHost.id(), manifest.exportedFrom());
            return new Imported(service.get(caller, id), notCarried);
        } catch (IOException e) {
            throw invalid("body", "is not a complete VM archive (" + VmArchive.SUFFIX + ", as GET /api/v1/vms/{id}/export"
                    + " makes): " + e.getMessage());
        } finally {
            try {
                FileTrees.delete(work);
            } catch (IOException e) {
                LOG.warnf("cannot remove the import's staging folder %s: %s", work, e.getMessage());
            }
        }
    }

    private static VmArchive manifest(TarArchiveInputStream tar) throws IOException {
        TarArchiveEntry first = tar.getNextEntry();
        if (first == null || !first.isFile() || !VmArchive.MANIFEST.equals(first.getName())) {
            throw invalid("body", "must be a VM archive: a tar whose first entry is " + VmArchive.MANIFEST
                    + (first == null ? "; it has no entries" : "; its first is '" + printable(first.getName()) + "'"));
        }
        if (first.getSize() > VmArchive.MAX_MANIFEST_BYTES) {
            throw invalid(VmArchive.MANIFEST, "must be at most 1 MiB; it is " + first.getSize() + " bytes");
        }
        VmArchive manifest;
        try {
            manifest = JSON.readValue(tar.readNBytes((int) first.getSize()), VmArchive.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw invalid(VmArchive.MANIFEST, "is not a VM archive's manifest: " + e.getOriginalMessage());
        }
        List<String> problems = manifest.problems();
        if (!problems.isEmpty()) {
            throw new InvalidRequestException("VM archive", problems.stream().map(p -> new FieldError(VmArchive.MANIFEST, p)).toList());
        }
        return manifest;
    }

    /**
     * The VM the manifest describes, checked as a request to create it would be (name, sizes, profile,
     * switches the caller may use), with its disks to be taken from the staging folder. An adapter whose
     * switch this installation does not have is put on the VM's isolated network instead, and said so.
     */
    private VmRequests.NewVm plan(Caller caller, VmArchive manifest, String name, Path work, List<String> notCarried) {
        VmArchive.Vm vm = manifest.vm();
        List<VmRequest.NicRequest> nics = new ArrayList<>();
        for (VmArchive.ArchivedNic nic : vm.nics() == null ? List.<VmArchive.ArchivedNic>of() : vm.nics()) {
            String switchId = nic == null ? null : nic.switchId();
            if (switchId != null && switches.find(switchId).isEmpty()) {
                notCarried.add("adapter " + nic.mac() + " was on switch '" + switchId + "', which this installation does not"
                        + " have; it is on the VM's isolated network");
                switchId = null;
            }
            String mac = nic == null ? null : nic.mac();
            Optional<String> holder = mac == null ? Optional.empty() : vms.holderOfMac(mac.toLowerCase(Locale.ROOT));
            if (holder.isPresent()) {
                notCarried.add("adapter " + mac + " has a new MAC: VM '" + holder.get() + "' has that one");
                mac = null;
            }
            nics.add(nic == null ? null : new VmRequest.NicRequest(mac, switchId, switchId == null ? null : nic.vlan()));
        }
        VmArchive.Boot boot = vm.boot() == null ? new VmArchive.Boot("disk", null, null, null, null) : vm.boot();
        TemplateEntity template = null;
        VmRequest.Boot requestedBoot = new VmRequest.Boot("disk", null, null, null, null);
        if ("kernel".equals(boot.kind()) && boot.template() != null) {
            template = templates.find(boot.template()).orElseThrow(() -> invalid(VmArchive.MANIFEST,
                    "the VM boots the kernel of template '" + boot.template() + "', which this installation does not have"));
        } else if (!"disk".equals(boot.kind())) {
            requestedBoot = new VmRequest.Boot(boot.kind(), boot.kernel(), boot.initramfs(), boot.commandLine(), null);
        }
        VmRequests.NewVm request = requests.toNewVm(new VmRequest(name == null ? vm.name() : name, null, vm.vcpus(),
                vm.memoryMib(), vm.profile(), vm.display(), requestedBoot, null, nics, vm.firmware(), null), false);
        VmDefinition d = request.definition();
        Map<Integer, NewImage> images = new TreeMap<>();
        List<Disk> disks = new ArrayList<>();
        for (int i = 0; i < vm.disks().size(); i++) {
            VmArchive.ArchivedDisk disk = vm.disks().get(i);
            images.put(i, new NewImage.Adopt(work.resolve("disk" + i + ".qcow2"), DiskFormat.QCOW2, disk.virtualBytes()));
            disks.add(new Disk(null, DiskFormat.QCOW2, disk.readOnly()));
        }
        BootSource bootSource = template == null ? d.boot() : templates.bootSource(template);
        if (template != null && boot.commandLine() != null && bootSource instanceof BootSource.Kernel k) {
            bootSource = new BootSource.Kernel(k.kernel(), k.initramfs(), boot.commandLine());
        }
        List<Nic> kept = d.nics();
        return new VmRequests.NewVm(new VmDefinition(d.id(), d.name(), d.vcpus(), d.memoryMib(), d.profile(), disks, kept,
                bootSource, d.display(), d.firmware(), d.resources(), null, d.maxVcpus(), d.maxMemoryMib(),
                d.memoryDimmsMib()), images, template == null ? null : template.id, Map.of(), null);
    }

    /** Reads the entries after the manifest into the staging folder: exactly those it lists, in order, each summed. */
    private static void receive(TarArchiveInputStream tar, VmArchive manifest, Path work) throws IOException {
        Map<String, String> digests = new LinkedHashMap<>();
        byte[] buffer = new byte[BUFFER];
        int position = 0;
        for (Map.Entry<String, Long> expected : manifest.payload().entrySet()) {
            TarArchiveEntry entry = tar.getNextEntry();
            String name = expected.getKey();
            if (entry == null || !entry.isFile() || !name.equals(entry.getName())) {
                throw invalid("body", "the archive's next entry must be " + name + " (as its manifest says); it is "
                        + (entry == null ? "its end" : "'" + printable(entry.getName()) + "'"));
            }
            if (entry.getSize() != expected.getValue()) {
                throw invalid("body", "entry " + name + " is " + entry.getSize() + " bytes; the manifest says "
                        + expected.getValue());
            }
            Path file = work.resolve(name.equals(VmArchive.UEFI_VARIABLES) ? VmArchive.UEFI_VARIABLES : "disk" + position++ + ".qcow2");
            MessageDigest digest = sha256();
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(file), digest)) {
                long left = entry.getSize();
                int n;
                while (left > 0 && (n = tar.read(buffer, 0, (int) Math.min(buffer.length, left))) > 0) {
                    out.write(buffer, 0, n);
                    left -= n;
                }
                if (left > 0) {
                    throw new IOException("entry " + name + " ends " + left + " bytes early");
                }
            }
            digests.put(name, HexFormat.of().formatHex(digest.digest()));
        }
        TarArchiveEntry sums = tar.getNextEntry();
        if (sums == null || !sums.isFile() || !VmArchive.SUMS.equals(sums.getName()) || sums.getSize() > 64 * 1024) {
            throw invalid("body", "the archive must end with " + VmArchive.SUMS + ", the SHA-256 of each entry");
        }
        Map<String, String> listed;
        try {
            listed = VmArchive.parseSums(new String(tar.readNBytes((int) sums.getSize()), StandardCharsets.US_ASCII));
        } catch (IllegalArgumentException e) {
            throw invalid(VmArchive.SUMS, e.getMessage());
        }
        for (Map.Entry<String, String> received : digests.entrySet()) {
            if (!received.getValue().equals(listed.get(received.getKey()))) {
                throw invalid("body", "entry " + received.getKey() + " is damaged: its SHA-256 is " + received.getValue()
                        + ", the archive's sums say " + listed.get(received.getKey()));
            }
        }
        if (tar.getNextEntry() != null) {
            throw invalid("body", "the archive goes on after " + VmArchive.SUMS + "; nothing may follow it");
        }
    }

    /** Refuses (413) an archive whose disks would not fit in the storage root's free space, less the library's reserve. */
    private void checkSpace(long bytes) throws IOException {
        Files.createDirectories(importsDir());
        long free = Files.getFileStore(importsDir()).getUsableSpace() - (config.library().reserveMib() << 20);
        if (bytes > free) {
            throw new NoRoomException("the archive's disks take " + (bytes >> 20) + " MiB; the storage root has "
                    + Math.max(0, free >> 20) + " MiB free (after the " + config.library().reserveMib() + " MiB it keeps)");
        }
    }

    private Path exportsDir() {
        return engine.storage().path().resolve("transfers").resolve("exports");
    }

    private Path importsDir() {
        return engine.storage().path().resolve("transfers").resolve("imports");
    }

    private static void put(TarArchiveOutputStream tar, String name, byte[] bytes) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(bytes.length);
        entry.setMode(0640);
        entry.setModTime(System.currentTimeMillis());
        tar.putArchiveEntry(entry);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    private static String fileName(String vmName) {
        String safe = vmName.replaceAll("[^A-Za-z0-9._-]+", "-").replaceAll("^[-.]+|-+$", "");
        return safe.isEmpty() ? "vm" : safe;
    }

    private static String lower(Enum<?> value) {
        return value == null ? null : value.name().toLowerCase(Locale.ROOT);
    }

    private static String printable(String name) {
        String s = name.replaceAll("\\p{Cntrl}", "?");
        return s.length() > 100 ? s.substring(0, 100) + "…" : s;
    }

    private static InvalidRequestException invalid(String field, String message) {
        return new InvalidRequestException("VM archive", List.of(new FieldError(field, message)));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] sha256(byte[] bytes) {
        return sha256().digest(bytes);
    }

    /** The response's stream, which the server closes itself. */
    private static final class NoClose extends java.io.FilterOutputStream {
        NoClose(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
