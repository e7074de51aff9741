package io.hypervise.server.template;

import io.hypervise.engine.Engine;
import io.hypervise.engine.storage.TinyLinuxTemplate;
import io.hypervise.engine.vm.BootSource;
import io.hypervise.engine.vm.DeviceProfile;
import io.hypervise.engine.vm.Display;
import io.hypervise.server.engine.HyperviseConfig;
import io.hypervise.server.inventory.BootColumns;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The templates of this host, as the inventory keeps them. The built-in {@code tiny-linux} is
 * recorded at start; its files are built on first use (a minute, once) and its record then names them.
 */
@ApplicationScoped
public class Templates {

    public static final String TINY_LINUX = TinyLinuxTemplate.NAME;
    private static final Logger LOG = Logger.getLogger(Templates.class);
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    @Inject
    Engine engine;

    @Inject
    HyperviseConfig config;

    void onStart(@Observes @Priority(20) StartupEvent event) {
        try {
            Optional<TinyLinuxTemplate.Built> built = TinyLinuxTemplate.existing(engine.storage().library());
            record(built.map(b -> new BootSource.Kernel(b.kernel(), b.initramfs(), b.commandLine()))
                    .orElseGet(() -> expectedTinyLinuxBoot()));
        } catch (IOException e) {
            LOG.warnf("could not read the tiny-linux template: %s", e.getMessage());
        }
    }

    /** The template's record, if there is one; an id that cannot exist is not looked up. */
    public Optional<TemplateEntity> find(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            return Optional.empty();
        }
        return QuarkusTransaction.requiringNew().call(() -> TemplateEntity.<TemplateEntity>findByIdOptional(id));
    }

    /** Whether the template's files are there, so a VM from it can start at once. */
    public boolean ready(TemplateEntity t) {
        return t.boot.filesPresent();
    }

    /** The boot source of a VM created from the template, building the template's files first if need be. */
    public BootSource bootSource(TemplateEntity t) {
        if (t.id.equals(TINY_LINUX)) {
            BootSource.Kernel boot = buildTinyLinux();
            record(boot);
            return boot;
        }
        return t.boot.toBootSource();
    }

    private BootSource.Kernel buildTinyLinux() {
        Path downloads = config.downloadCache()
                .orElse(Path.of(System.getProperty("user.home"), ".cache", "hypervise", "downloads"));
        try {
            TinyLinuxTemplate.Built b = TinyLinuxTemplate.ensure(engine.storage().library(), downloads,
                    line -> LOG.infof("tiny-linux template: %s", line));
            return new BootSource.Kernel(b.kernel(), b.initramfs(), b.commandLine());
        } catch (IOException e) {
            throw new UncheckedIOException("the tiny-linux template could not be built: " + e.getMessage(), e);
        }
    }

    private BootSource.Kernel expectedTinyLinuxBoot() {
        Path dir = engine.storage().library().resolve(TINY_LINUX);
        return new BootSource.Kernel(dir.resolve("vmlinux"), dir.resolve("initrd.img"), TinyLinuxTemplate.COMMAND_LINE);
    }

    private void record(BootSource.Kernel boot) {
        QuarkusTransaction.requiringNew().run(() -> {
            Instant now = Instant.now();
            TemplateEntity t = TemplateEntity.findById(TINY_LINUX);
            if (t == null) {
                t = new TemplateEntity();
                t.id = TINY_LINUX;
                t.name = "Tiny Linux";
                t.description = "A Linux kernel and a busybox shell that boot in seconds: for trying things out."
                        + " Built on this host from Debian's packages on first use.";
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
