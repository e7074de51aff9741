package io.hypervise.server.template;

import io.hypervise.engine.Engine;
import io.hypervise.engine.template.DebianTemplate;
import io.hypervise.engine.template.TinyLinuxTemplate;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.server.access.Caller;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.audit.AuditLog;
import io.hypervise.server.jobs.JobView;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.library.Library;
import java.util.Map;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.inventory.BootColumns;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.panache.common.Sort;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import io.hypervise.server.api.NotFoundRefusal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The templates, as the inventory keeps them for every host. A template's files are the host's own:
 * its record names them relative to the library, and each host resolves them in its own library (the
 * record never holds one host's paths). The built-in {@code tiny-linux} and its 32-bit twin
 * {@code tiny-linux-i386} are recorded at start; their files are built on each host on first use there
 * (a minute, once each).
 */
@ApplicationScoped
public class Templates {

    public static final String TINY_LINUX = TinyLinuxTemplate.NAME;
    public static final String TINY_LINUX_I386 = TinyLinuxTemplate.Variant.I386.templateName();
    public static final String DEBIAN = DebianTemplate.NAME;
    private static final Logger LOG = Logger.getLogger(Templates.class);
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    @Inject
    Engine engine;

    @Inject
    ServerConfig config;

    @Inject
    Library library;

    @Inject
    Jobs jobs;

    @Inject
    AuditLog audit;

    void onStart(@Observes @Priority(20) StartupEvent event) {
        for (TinyLinuxTemplate.Variant variant : TinyLinuxTemplate.Variant.values()) {
            recordAtStart(variant);
        }
        try {
            recordDebian();
        } catch (RuntimeException e) {
            LOG.infof("debian-12 was recorded concurrently (%s)", e.getMessage());
        }
    }

    private void recordAtStart(TinyLinuxTemplate.Variant variant) {
        BootSource.Kernel boot;
        try {
            Optional<TinyLinuxTemplate.Built> built = TinyLinuxTemplate.existing(variant, engine.storage().library());
            boot = built.map(b -> new BootSource.Kernel(b.kernel(), b.initramfs(), b.commandLine()))
                    .orElseGet(() -> expectedTinyLinuxBoot(variant));
        } catch (IOException e) {
            LOG.warnf("could not read the %s template: %s", variant.templateName(), e.getMessage());
            return;
        }
        try {
            record(variant, boot);
        } catch (RuntimeException e) {
            // Another host's server, starting at the same moment, recorded it first: take theirs.
            LOG.infof("%s was recorded concurrently (%s); reading it again", variant.templateName(), e.getMessage());
            record(variant, boot);
        }
    }

    /**
     * Debian 12, booting from its own disk (GRUB and its kernel, BIOS or UEFI), which a VM gets a linked
     * clone of; a NoCloud seed gives it its host name and user at first boot. Its disk is built on a host
     * by an administrator ({@link #build}: about 4 minutes, once), not on first use.
     */
    private void recordDebian() {
        QuarkusTransaction.requiringNew().run(() -> {
            if (TemplateEntity.findById(DEBIAN) != null) {
                return;
            }
            TemplateEntity t = new TemplateEntity();
            t.id = DEBIAN;
            t.name = "Debian 12";
            t.description = "Debian 12 (bookworm) with systemd and OpenSSH, booting from its own disk through GRUB."
                    + " Give it a host name, a user and SSH keys or a password hash (guest) at creation."
                    + " Built on the host from Debian's packages by an administrator (about 4 minutes).";
            t.vcpus = 1;
            t.memoryMib = 512;
            t.profile = DeviceProfile.ENLIGHTENED;
            t.display = Display.VNC;
            t.boot = BootColumns.of(new BootSource.FirstDisk());
            t.createdAt = Instant.now();
            t.updatedAt = t.createdAt;
            t.persist();
        });
    }

    /** A disk image a VM from the template gets a linked clone of, in order: where it is, its format and size. */
    public record BaseDisk(Path path, DiskFormat format, long bytes, String libraryItem) {
    }

    /**
     * The disk images a VM from the template starts from: the template's library disks, or the built-in
     * Debian disk once it is built on this host (empty until then, see {@link #ready}).
     */
    public List<BaseDisk> baseDisks(TemplateEntity t) {
        if (t.id.equals(DEBIAN)) {
            try {
                return DebianTemplate.existing(engine.storage().library())
                        .map(b -> List.of(new BaseDisk(b.disk(), b.format(), b.virtualSizeBytes(), null))).orElse(List.of());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return t.disks.stream().flatMap(d -> library.find(d.libraryItemId).stream())
                .map(item -> new BaseDisk(library.pathOf(item), item.format, item.virtualBytes, item.id)).toList();
    }

    /**
     * Builds a built-in template's files on this host, as a job (tiny-linux about a minute, debian-12 about
     * four); a template already built is done at once.
     */
    public JobView build(Caller caller, String id) {
        TemplateEntity t = find(id).orElseThrow(() -> new NotFoundRefusal("no template '" + id + "'"));
        Optional<TinyLinuxTemplate.Variant> tiny = java.util.Arrays.stream(TinyLinuxTemplate.Variant.values())
                .filter(v -> v.templateName().equals(t.id)).findFirst();
        if (tiny.isEmpty() && !t.id.equals(DEBIAN)) {
            throw new InvalidRequestException("template build", List.of(new FieldError("id",
                    "template '" + id + "' is made of library items, not built on a host")));
        }
        String target = "template:" + t.id;
        audit.recordIntent(caller, "template.build", target, Map.of("template", t.id));
        return jobs.submit("template-build", target, caller.username(), progress -> {
            if (t.id.equals(DEBIAN)) {
                DebianTemplate.ensure(engine.storage().library(), downloads(), line -> LOG.infof("debian-12 template: %s", line));
            } else {
                buildTinyLinux(tiny.get());
            }
        }, error -> audit.recordOutcome(caller, "template.build", target, Map.of("template", t.id), error));
    }

    private Path downloads() {
        return config.downloadCache().orElse(Path.of(System.getProperty("user.home"), ".cache", "hypervise", "downloads"));
    }

    /** Every template, by name, and whether its files are ready on this host. */
    @Transactional
    public List<TemplateView> list() {
        return TemplateEntity.<TemplateEntity>listAll(Sort.by("name").and("id")).stream()
                .map(t -> TemplateView.of(t, ready(t))).toList();
    }

    /** The template, and whether it is ready; 404 naming the id for one there is not. */
    public TemplateView view(String id) {
        TemplateEntity t = find(id).orElseThrow(() -> new NotFoundRefusal("no template '" + id + "'"));
        return TemplateView.of(t, ready(t));
    }

    /** The template's record, if there is one; an id that cannot exist is not looked up. */
    public Optional<TemplateEntity> find(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            return Optional.empty();
        }
        return QuarkusTransaction.requiringNew().call(() -> TemplateEntity.<TemplateEntity>findByIdOptional(id));
    }

    /** Whether the template's files are there on this host, so a VM from it can start at once. */
    public boolean ready(TemplateEntity t) {
        if (t.id.equals(DEBIAN)) {
            return !baseDisks(t).isEmpty();
        }
        return switch (localBoot(t)) {
            case BootSource.Kernel k -> Files.isRegularFile(k.kernel()) && (k.initramfs() == null || Files.isRegularFile(k.initramfs()));
            case BootSource.Iso iso -> Files.isRegularFile(iso.image());
            case BootSource.FirstDisk d -> true;
        };
    }

    /** The boot source of a VM created from the template on this host, building the template's files first if need be. */
    public BootSource bootSource(TemplateEntity t) {
        Optional<TinyLinuxTemplate.Variant> builtIn = TinyLinuxTemplate.Variant.ofTemplate(t.id);
        if (builtIn.isPresent()) {
            return buildTinyLinux(builtIn.get());
        }
        return localBoot(t);
    }

    /** The template's boot source with its files in this host's library; nothing is built. */
    public BootSource localBoot(TemplateEntity t) {
        Path library = engine.storage().library();
        return switch (t.boot.toBootSource()) {
            case BootSource.Kernel k -> new BootSource.Kernel(library.resolve(k.kernel()),
                    k.initramfs() == null ? null : library.resolve(k.initramfs()), k.commandLine());
            case BootSource.Iso iso -> new BootSource.Iso(library.resolve(iso.image()));
            case BootSource.FirstDisk d -> d;
        };
    }

    private BootSource.Kernel buildTinyLinux(TinyLinuxTemplate.Variant variant) {
        Path downloads = downloads();
        try {
            TinyLinuxTemplate.Built b = TinyLinuxTemplate.ensure(variant, engine.storage().library(), downloads,
                    line -> LOG.infof("%s template: %s", variant.templateName(), line));
            return new BootSource.Kernel(b.kernel(), b.initramfs(), b.commandLine());
        } catch (IOException e) {
            throw new UncheckedIOException("the " + variant.templateName() + " template could not be built: "
                    + e.getMessage(), e);
        }
    }

    private BootSource.Kernel expectedTinyLinuxBoot(TinyLinuxTemplate.Variant variant) {
        Path dir = engine.storage().library().resolve(variant.templateName());
        return new BootSource.Kernel(dir.resolve("vmlinux"), dir.resolve("initrd.img"), TinyLinuxTemplate.COMMAND_LINE);
    }

    /**
     * Records a tiny-linux variant with its files named relative to the library, the same on every host, so
     * hosts sharing one database agree on the record (a record from before, with one host's absolute paths,
     * is rewritten once).
     */
    private void record(TinyLinuxTemplate.Variant variant, BootSource.Kernel local) {
        Path library = engine.storage().library();
        BootSource.Kernel boot = new BootSource.Kernel(library.relativize(local.kernel()),
                local.initramfs() == null ? null : library.relativize(local.initramfs()), local.commandLine());
        QuarkusTransaction.requiringNew().run(() -> {
            Instant now = Instant.now();
            TemplateEntity t = TemplateEntity.findById(variant.templateName());
            if (t == null) {
                t = new TemplateEntity();
                t.id = variant.templateName();
                t.name = switch (variant) {
                    case AMD64 -> "Tiny Linux";
                    case I386 -> "Tiny Linux (32-bit)";
                };
                t.description = switch (variant) {
                    case AMD64 -> "A Linux kernel and a busybox shell that boot in seconds: for trying things out.";
                    case I386 -> "A 32-bit (i686) Linux kernel and a busybox shell that boot in seconds.";
                } + " Built on this host from Debian's packages on first use.";
                t.vcpus = 1;
                t.memoryMib = 256;
                t.profile = DeviceProfile.ENLIGHTENED;
                t.display = Display.VNC;
                t.createdAt = now;
            }
            BootColumns columns = BootColumns.of(boot);
            if (t.boot == null || !columns.toBootSource().equals(t.boot.toBootSource())) {
                t.boot = columns;
                t.updatedAt = now;
            }
            t.persist();
        });
    }
}
