package io.hypervise.server.library;

import io.hypervise.engine.Engine;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.storage.ImageFormat;
import io.hypervise.engine.storage.vhd.ParentResolver;
import io.hypervise.server.access.AccessDeniedException;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.Permission;
import io.hypervise.server.access.Reach;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.api.NotFoundRefusal;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.audit.AuditOutcome;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.inventory.PageOf;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.policy.EffectivePolicy;
import io.hypervise.server.policy.PolicyDeniedException;
import io.hypervise.server.policy.SelfServicePolicies;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The library's rules: who sees which item, what a new item may be called and who may see it, how much
 * each user keeps (their policy's library quota), where an item is used, and that an item in use stays.
 */
@ApplicationScoped
public class Library {

    private static final Logger LOG = Logger.getLogger(Library.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    static final Pattern ITEM_ID = Pattern.compile("lib-[a-z0-9]{8,32}");
    static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    static final Pattern GROUP = Pattern.compile("[^\\p{Cntrl}]{1,255}");

    @Inject
    Engine engine;

    @Inject
    EntityManager em;

    @Inject
    AuditLog audit;

    @Inject
    Jobs jobs;

    @Inject
    LocalHost localHost;

    @Inject
    SelfServicePolicies policies;

    @Inject
    LibraryImport importer;

    @Inject
    ServerConfig config;

    /** A page of the items the caller may see, by name; of one kind where given. */
    @Transactional
    public PageOf<LibraryItemView> list(Caller caller, Optional<ItemKind> kind, int page, int size) {
        StringBuilder where = new StringBuilder("WHERE true");
        Map<String, Object> parameters = new LinkedHashMap<>();
        if (caller.reach(Permission.LIBRARY_READ) != Reach.ALL) {
            where.append(" AND (owner = :me OR visibility = 'EVERYONE' OR (visibility = 'GROUPS' AND groups && CAST(:groups AS text[])))");
            parameters.put("me", caller.username());
            parameters.put("groups", "{" + String.join(",", caller.groups().stream().map(Library::arrayElement).toList()) + "}");
        }
        kind.ifPresent(k -> {
            where.append(" AND kind = :kind");
            parameters.put("kind", k.name());
        });
        var count = em.createNativeQuery("SELECT count(*) FROM library_items " + where);
        var rows = em.createNativeQuery("SELECT * FROM library_items " + where + " ORDER BY name, id LIMIT :size OFFSET :offset",
                LibraryItemEntity.class);
        parameters.forEach((k, v) -> {
            count.setParameter(k, v);
            rows.setParameter(k, v);
        });
        rows.setParameter("size", size);
        rows.setParameter("offset", (long) page * size);
        long total = ((Number) count.getSingleResult()).longValue();
        @SuppressWarnings("unchecked")
        List<LibraryItemEntity> items = rows.getResultList();
        Map<String, Long> uses = useCounts(items.stream().map(i -> i.id).toList());
        return new PageOf<>(items.stream().map(i -> LibraryItemView.of(i, uses.getOrDefault(i.id, 0L), null)).toList(),
                page, size, total);
    }

    /** The item with the VMs that use it; 404 for an item the caller may not see. */
    @Transactional
    public LibraryItemView view(Caller caller, String id) {
        LibraryItemEntity item = visible(caller, id).orElseThrow(() -> new NotFoundRefusal("no library item '" + id + "'"));
        List<LibraryItemView.UsedBy> users = usedBy(item.id);
        return LibraryItemView.of(item, users.size(), users);
    }

    /** The item, whoever may see it (for what a template the caller may use is made of). */
    @Transactional
    public Optional<LibraryItemEntity> find(String id) {
        return id == null || !ITEM_ID.matcher(id).matches() ? Optional.empty() : LibraryItemEntity.findByIdOptional(id);
    }

    /** The item, if it exists and the caller may see it. */
    @Transactional
    public Optional<LibraryItemEntity> visible(Caller caller, String id) {
        if (id == null || !ITEM_ID.matcher(id).matches()) {
            return Optional.empty();
        }
        return LibraryItemEntity.<LibraryItemEntity>findByIdOptional(id).filter(i -> LibraryAccessRule.canSee(caller, i));
    }

    /**
     * The item a new VM is to use as {@code kind}, or why not, as a violation of {@code field}: it must
     * exist, be visible to the caller, be of that kind and lie on this host.
     */
    public Optional<LibraryItemEntity> usable(Caller caller, String id, ItemKind kind, String field, List<FieldError> v) {
        Optional<LibraryItemEntity> item = visible(caller, id);
        if (item.isEmpty()) {
            v.add(new FieldError(field, "no library item '" + id + "'; see GET /api/v1/library"));
        } else if (item.get().kind != kind) {
            v.add(new FieldError(field, "library item '" + id + "' is " + article(item.get().kind) + ", not " + article(kind)));
        } else if (!item.get().hostId.equals(localHost.id())) {
            v.add(new FieldError(field, "library item '" + id + "' is on host " + item.get().hostId + ", not on this one ("
                    + localHost.id() + ")"));
        } else {
            return item;
        }
        return Optional.empty();
    }

    private static String article(ItemKind kind) {
        return kind == ItemKind.ISO ? "an ISO image" : "a disk image";
    }

    /** Where the item's file is on this host. */
    public Path pathOf(LibraryItemEntity item) {
        return engine.storage().library().resolve(item.file);
    }

    /** The VMs that use the item: disks made from it (linked clones read it), CD-ROMs that hold it. */
    List<LibraryItemView.UsedBy> usedBy(String id) {
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("""
                SELECT v.id, v.name, 'disk ' || d.position FROM disks d JOIN vms v ON v.id = d.vm_id WHERE d.library_item_id = :id
                UNION ALL
                SELECT v.id, v.name, 'cd-rom' FROM vms v WHERE v.boot_library_item_id = :id
                UNION ALL
                SELECT NULL, t.name, 'disk ' || td.position || ' of template ' || t.id FROM template_disks td
                    JOIN templates t ON t.id = td.template_id WHERE td.library_item_id = :id
                ORDER BY 2, 1""").setParameter("id", id).getResultList();
        return rows.stream().map(r -> new LibraryItemView.UsedBy((String) r[0], (String) r[1], (String) r[2])).toList();
    }

    private Map<String, Long> useCounts(List<String> ids) {
        Map<String, Long> counts = new LinkedHashMap<>();
        if (ids.isEmpty()) {
            return counts;
        }
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("""
                SELECT id, count(*) FROM (
                    SELECT library_item_id AS id FROM disks WHERE library_item_id IN (:ids)
                    UNION ALL
                    SELECT boot_library_item_id FROM vms WHERE boot_library_item_id IN (:ids)
                    UNION ALL
                    SELECT library_item_id FROM template_disks WHERE library_item_id IN (:ids)) u
                GROUP BY id""").setParameter("ids", ids).getResultList();
        rows.forEach(r -> counts.put((String) r[0], ((Number) r[1]).longValue()));
        return counts;
    }

    /**
     * Deletes the item and its file. Refused (409) while a VM uses it; 404 for an item the caller may not
     * see, 403 for one they see but may not delete.
     */
    @Transactional
    public void delete(Caller caller, String id) {
        LibraryItemEntity item = visible(caller, id).orElseThrow(() -> new NotFoundRefusal("no library item '" + id + "'"));
        String target = target(id);
        if (!LibraryAccessRule.canManage(caller, item.owner)) {
            String why = caller.username() + " may delete only their own library items; '" + item.name + "' is " + item.owner + "'s";
            audit.recordDenial(caller, "library.delete", target, Map.of("name", item.name), why);
            throw new AccessDeniedException(why);
        }
        if (!item.hostId.equals(localHost.id())) {
            throw new LibraryInUseException("library item '" + item.name + "' is on host " + item.hostId
                    + "; delete it through that host's server");
        }
        List<LibraryItemView.UsedBy> users = usedBy(id);
        if (!users.isEmpty()) {
            throw new LibraryInUseException("library item '" + item.name + "' is used by " + users.stream()
                    .map(u -> u.vmId() == null ? u.as() : "VM '" + u.vmName() + "' (" + u.vmId() + ", " + u.as() + ")").toList()
                    + "; delete those first");
        }
        item.delete();
        em.flush();
        audit.record(caller, "library.delete", target, Map.of("name", item.name, "sha256", item.sha256), AuditOutcome.SUCCEEDED, null);
        try {
            FileTrees.delete(importer.itemFolder(id));
        } catch (IOException e) {
            // The row is gone, so nothing uses the file; the start-up sweep removes what is left.
            LOG.warnf("library item %s deleted on host %s, but its files could not be removed: %s", id, localHost.id(), e.getMessage());
        }
        LOG.infof("library item '%s' (%s) deleted by %s on host %s", item.name, id, caller.username(), localHost.id());
    }

    /** Removes an item nothing uses yet (one a failed operation made), its row and its files; no audit of its own. */
    public void discard(String id) {
        QuarkusTransaction.requiringNew().run(() -> LibraryItemEntity.deleteById(id));
        try {
            FileTrees.delete(importer.itemFolder(id));
        } catch (IOException e) {
            LOG.warnf("could not remove the files of library item %s: %s", id, e.getMessage());
        }
    }

    /**
     * At start: removes item folders of the library that no item and no upload under way owns
     * (what a deletion or an import cut short by the server's death left).
     */
    void removeOrphans() {
        try {
            // VHDs written for downloads that a dying server never finished sending.
            FileTrees.delete(engine.storage().library().resolve("exports"));
        } catch (IOException e) {
            LOG.warnf("could not remove the library's unfinished exports: %s", e.getMessage());
        }
        Path items = engine.storage().library().resolve("items");
        if (!Files.isDirectory(items)) {
            return;
        }
        java.util.Set<String> known = QuarkusTransaction.requiringNew().call(() -> {
            java.util.Set<String> ids = new java.util.HashSet<>();
            // Every host's: a storage root may be shared, and another host's item is not an orphan here.
            ids.addAll(em.createQuery("select i.id from LibraryItemEntity i", String.class).getResultList());
            ids.addAll(em.createQuery("select u.itemId from LibraryUploadEntity u", String.class).getResultList());
            return ids;
        });
        try (var folders = Files.list(items)) {
            for (Path folder : folders.toList()) {
                if (!known.contains(folder.getFileName().toString())) {
                    FileTrees.delete(folder);
                    LOG.infof("removed %s: no library item of host %s owns it", folder, localHost.id());
                }
            }
        } catch (IOException e) {
            LOG.warnf("could not tidy the library's items: %s", e.getMessage());
        }
    }

    /** What a download of an item is: its file (to be removed after sending when {@code temporary}), name and type. */
    public record Content(Path file, boolean temporary, String fileName, String mediaType) {
    }

    /**
     * An item's content for download: as it is kept ({@code format} null or its own), or a disk image as a
     * VHD that Hyper-V takes (dynamic, or {@code vhd-fixed}), written by Hypervise's own VHD writer from a
     * raw copy that qemu-img makes, told the item's format. 404 for an item the caller may not see.
     */
    public Content content(Caller caller, String id, String format) throws IOException {
        LibraryItemEntity item = visible(caller, id).orElseThrow(() -> new NotFoundRefusal("no library item '" + id + "'"));
        String own = item.kind == ItemKind.ISO ? "iso" : item.format.name().toLowerCase(Locale.ROOT);
        String wanted = format == null ? own : format.toLowerCase(Locale.ROOT);
        String base = item.name.replaceAll("[^A-Za-z0-9._-]+", "-");
        if (wanted.equals(own)) {
            return new Content(pathOf(item), false, base + "." + (own.equals("raw") ? "img" : own), "application/octet-stream");
        }
        if (item.kind != ItemKind.DISK || !wanted.equals("vhd") && !wanted.equals("vhd-fixed")) {
            throw new InvalidRequestException("library download", List.of(new FieldError("format",
                    "must be " + own + " (as kept)" + (item.kind == ItemKind.DISK ? ", vhd or vhd-fixed" : "") + "; got '" + format + "'")));
        }
        Path exports = Files.createDirectories(engine.storage().library().resolve("exports"));
        Path raw = exports.resolve(id + "-" + newItemId() + ".raw");
        Path vhd = exports.resolve(raw.getFileName().toString().replace(".raw", ".vhd"));
        try {
            engine.images().copy(pathOf(item), item.format, raw, io.hypervise.engine.vm.definition.DiskFormat.RAW, p -> { });
            try (java.nio.channels.FileChannel source = java.nio.channels.FileChannel.open(raw)) {
                var export = new io.hypervise.engine.storage.vhd.VhdExport(java.time.Clock.systemUTC());
                if (wanted.equals("vhd")) {
                    export.toDynamic(source, vhd, io.hypervise.engine.storage.vhd.CopyProgress.NONE);
                } else {
                    export.toFixed(source, vhd, io.hypervise.engine.storage.vhd.CopyProgress.NONE);
                }
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(vhd);
            throw e;
        } finally {
            Files.deleteIfExists(raw);
        }
        return new Content(vhd, true, base + ".vhd", "application/octet-stream");
    }

    /** What an administrator asks to import from the host's file system. */
    public record HostImport(String path, String name, String description, String kind, String format, String visibility,
            List<String> groups) {
    }

    /**
     * Imports a file from one of the configured import folders, as a job (hashing and copying take
     * time). The file is copied, never moved: it is the administrator's.
     */
    public JobView importFromHost(Caller caller, HostImport request) {
        if (request == null) {
            throw new InvalidRequestException("library import", List.of(new FieldError("body", "is required")));
        }
        List<FieldError> v = new ArrayList<>();
        ItemSpec spec = spec(caller, request.name(), request.description(), request.kind(), request.format(), null,
                request.visibility(), request.groups(), v);
        Path source = hostFile(request.path(), v);
        if (!v.isEmpty()) {
            throw new InvalidRequestException("library import", v);
        }
        long bytes;
        try {
            bytes = Files.size(source);
        } catch (IOException e) {
            throw new InvalidRequestException("library import", List.of(new FieldError("path", "cannot be read: " + e.getMessage())));
        }
        checkSpace(caller, bytes, null);
        String id = newItemId();
        String target = target(id);
        Map<String, Object> parameters = Map.of("path", source.toString(), "name", spec.name(), "kind", spec.kind().id());
        audit.recordIntent(caller, "library.import", target, parameters);
        return jobs.submit("library-import", target, caller.username(),
                progress -> importer.run(id, source, false, spec, siblings(source), progress, item -> { }),
                error -> audit.recordOutcome(caller, "library.import", target, parameters, error));
    }

    /**
     * A differencing VHD's parents, for an import from the host: files beside it in its import folder,
     * found by the file name its header gives (the last part of any name), never by the path itself. The
     * import then checks each is the parent the child names (its unique id).
     */
    private static ParentResolver siblings(Path child) {
        Path folder = child.getParent();
        return parent -> parent.names().stream()
                .map(name -> name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1))
                .filter(name -> !name.isEmpty() && !name.equals(".") && !name.equals(".."))
                .map(folder::resolve)
                .filter(p -> p.getParent().equals(folder) && Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                .findFirst();
    }

    /** A host file an import may read: absolute, inside a configured import folder (links resolved), a regular file. */
    private Path hostFile(String path, List<FieldError> v) {
        List<Path> folders = config.library().importFolders().orElse(List.of());
        if (path == null || path.isBlank()) {
            v.add(new FieldError("path", "is required: an absolute path inside an import folder"));
            return null;
        }
        if (folders.isEmpty()) {
            v.add(new FieldError("path", "this host has no import folder; an operator sets hypervise.library.import-folders"));
            return null;
        }
        try {
            Path given = Path.of(path);
            if (!given.isAbsolute()) {
                v.add(new FieldError("path", "must be absolute"));
                return null;
            }
            Path real = given.toRealPath();
            for (Path folder : folders) {
                Path realFolder = folder.toRealPath();
                if (real.startsWith(realFolder) && Files.isRegularFile(real)) {
                    return real;
                }
            }
            v.add(new FieldError("path", "must be a regular file inside an import folder (" + folders + "), links resolved"));
        } catch (IOException | RuntimeException e) {
            v.add(new FieldError("path", "cannot be read: " + e.getMessage()));
        }
        return null;
    }

    /**
     * The item as asked for, each field checked: a name, a kind (iso or disk), a format where declared
     * (raw, qcow2, vhd, vhdx, iso; left out: detected), who may see it (groups only the caller's own,
     * unless they manage the whole library).
     */
    ItemSpec spec(Caller caller, String name, String description, String kind, String format, String sha256,
            String visibility, List<String> groups, List<FieldError> v) {
        if (name == null || name.isBlank()) {
            v.add(new FieldError("name", "is required"));
        } else if (name.length() > 64 || name.chars().anyMatch(Character::isISOControl)) {
            v.add(new FieldError("name", "must be at most 64 characters, without control characters"));
        }
        if (description != null && (description.length() > 1000 || description.indexOf('\u0000') >= 0)) {
            v.add(new FieldError("description", "must be at most 1000 characters, without U+0000"));
        }
        ItemKind k = kind == null ? null : ItemKind.of(kind).orElse(null);
        if (k == null) {
            v.add(new FieldError("kind", "is required: iso or disk"));
        }
        ImageFormat f = null;
        if (format != null) {
            try {
                f = ImageFormat.parse(format);
            } catch (IllegalArgumentException e) {
                v.add(new FieldError("format", "must be iso, raw, qcow2, vhd or vhdx, or left out to be detected; got '" + format + "'"));
            }
        }
        if (sha256 != null && !SHA256.matcher(sha256.toLowerCase(Locale.ROOT)).matches()) {
            v.add(new FieldError("sha256", "must be 64 hexadecimal digits"));
        }
        Visibility vis = visibility == null ? Visibility.ADMINS : Visibility.of(visibility).orElse(null);
        if (vis == null) {
            v.add(new FieldError("visibility", "must be everyone, groups or admins; got '" + visibility + "'"));
        }
        List<String> g = groups == null ? List.of() : groups;
        if (vis == Visibility.GROUPS && g.isEmpty()) {
            v.add(new FieldError("groups", "are required when the visibility is groups"));
        }
        if (vis != Visibility.GROUPS && !g.isEmpty()) {
            v.add(new FieldError("groups", "are only for visibility groups"));
        }
        for (int i = 0; i < g.size(); i++) {
            String group = g.get(i);
            if (group == null || !GROUP.matcher(group).matches()) {
                v.add(new FieldError("groups[" + i + "]", "must be a Keycloak group name: 1 to 255 characters, without control characters"));
            } else if (caller.reach(Permission.LIBRARY_WRITE) != Reach.ALL && !caller.groups().contains(group)) {
                v.add(new FieldError("groups[" + i + "]", caller.username() + " may share only with their own groups; not a member of '" + group + "'"));
            }
        }
        return new ItemSpec(caller.username(), name, description, k, f, sha256 == null ? null : sha256.toLowerCase(Locale.ROOT),
                vis, g.stream().distinct().toArray(String[]::new));
    }

    /**
     * Refuses (413) what would not fit: the caller's library quota where a policy governs them (items and
     * uploads under way count; {@code excludingUpload} is the one being checked again), and the library's
     * file system, which always keeps its reserve free.
     */
    void checkSpace(Caller caller, long bytes, String excludingUpload) {
        long free;
        try {
            Path library = engine.storage().library();
            Files.createDirectories(library);
            free = Files.getFileStore(library).getUsableSpace() - (config.library().reserveMib() << 20);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the library's free space: " + e.getMessage(), e);
        }
        if (bytes > free) {
            throw new LibraryFullException("the library has " + mib(Math.max(0, free)) + " free (keeping "
                    + config.library().reserveMib() + " MiB in reserve); this needs " + mib(bytes));
        }
        if (!policies.govern(caller, Permission.LIBRARY_WRITE)) {
            return;
        }
        EffectivePolicy policy = policies.effective(caller);
        if (policy.applied().isEmpty()) {
            throw new PolicyDeniedException(List.of("no self-service policy applies to " + caller.username()
                    + "; an administrator assigns policies to users and groups"));
        }
        if (!policy.maxLibraryMib().configured()) {
            return;
        }
        long used = usedBytes(caller.username(), excludingUpload);
        long limit = policy.maxLibraryMib().value() << 20;
        if (used + bytes > limit) {
            throw new LibraryFullException("library quota: " + mib(used) + " of " + mib(limit) + " in use (policy '"
                    + policy.maxLibraryMib().policy() + "'); this needs " + mib(bytes));
        }
    }

    /** What the owner keeps in the library: their items, and the full length of their uploads under way. */
    long usedBytes(String owner, String excludingUpload) {
        Number items = (Number) em.createNativeQuery("SELECT coalesce(sum(actual_bytes), 0) FROM library_items WHERE owner = :o")
                .setParameter("o", owner).getSingleResult();
        Number uploads = (Number) em.createNativeQuery(
                "SELECT coalesce(sum(length), 0) FROM library_uploads WHERE owner = :o AND id <> :u")
                .setParameter("o", owner).setParameter("u", excludingUpload == null ? "" : excludingUpload).getSingleResult();
        return items.longValue() + uploads.longValue();
    }

    static String mib(long bytes) {
        long mib = (bytes + (1 << 20) - 1) >> 20;
        return mib >= 10240 ? String.format(Locale.ROOT, "%.1f GiB", mib / 1024.0) : mib + " MiB";
    }

    public static String newItemId() {
        byte[] bytes = new byte[6];
        RANDOM.nextBytes(bytes);
        return "lib-" + HexFormat.of().formatHex(bytes);
    }

    static String target(String itemId) {
        return "library:" + itemId;
    }

    private static String arrayElement(String group) {
        return "\"" + group.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
