package io.hypervise.server.template;

import io.hypervise.engine.Engine;
import io.hypervise.engine.storage.ImageFormat;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.BootColumns;
import io.hypervise.server.jobs.Jobs;
import io.hypervise.server.library.ItemKind;
import io.hypervise.server.library.ItemSpec;
import io.hypervise.server.library.Library;
import io.hypervise.server.library.LibraryImport;
import io.hypervise.server.library.LibraryItemEntity;
import io.hypervise.server.library.Visibility;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * Stores an Off VM in the library as a template (SCVMM's "store in library"): each disk is copied,
 * flattened if it is a linked clone, into a library disk image, and the template records the VM's
 * settings and those images. A VM deployed from the template gets a linked clone of each, so it starts
 * with the first one's files. A VM that booted an ISO is stored to boot from its first disk (what an
 * installation leaves). If anything fails, nothing of it is kept.
 */
@ApplicationScoped
public class TemplateStore {

    private static final Logger LOG = Logger.getLogger(TemplateStore.class);

    @Inject
    Engine engine;

    @Inject
    Library library;

    @Inject
    LibraryImport importer;

    /** Stores the VM's definition and disks as template {@code id}; the VM must stay Off meanwhile (its caller sees to that). */
    public void store(Caller caller, VmDefinition vm, String id, String name, String description, Jobs.Progress progress)
            throws IOException {
        List<LibraryItemEntity> items = new ArrayList<>();
        try {
            int disks = vm.disks().size();
            for (int i = 0; i < disks; i++) {
                int step = i;
                Disk disk = vm.disks().get(i);
                String itemId = Library.newItemId();
                Path part = engine.storage().library().resolve("uploads").resolve(itemId + ".part");
                Files.createDirectories(part.getParent());
                engine.images().flatten(disk, part, DiskFormat.QCOW2,
                        p -> progress.percent((step * 100 + p * 2 / 3) / Math.max(1, disks)));
                ItemSpec spec = new ItemSpec(caller.username(), truncate(name + " disk " + i), "Disk " + i + " of template '" + id
                        + "', stored from VM '" + vm.name() + "'", ItemKind.DISK, ImageFormat.QCOW2, null, Visibility.ADMINS,
                        new String[0]);
                items.add(importer.run(itemId, part, true, spec,
                        p -> progress.percent((step * 100 + 66 + p / 3) / Math.max(1, disks)), item -> { }));
            }
            QuarkusTransaction.requiringNew().run(() -> record(caller, vm, id, name, description, items));
            LOG.infof("VM '%s' (%s) stored in the library as template '%s' by %s, with %d disk image(s)", vm.name(), vm.id(),
                    id, caller.username(), items.size());
        } catch (IOException | RuntimeException e) {
            for (LibraryItemEntity item : items) {
                library.discard(item.id);
            }
            throw e;
        }
    }

    private static void record(Caller caller, VmDefinition vm, String id, String name, String description,
            List<LibraryItemEntity> items) {
        TemplateEntity t = new TemplateEntity();
        t.id = id;
        t.name = name;
        t.description = description == null ? "" : description;
        t.vcpus = vm.vcpus();
        t.memoryMib = vm.memoryMib();
        t.profile = vm.profile();
        t.display = vm.display();
        t.firmware = vm.firmware();
        t.boot = BootColumns.of(vm.boot() instanceof BootSource.Iso ? new BootSource.FirstDisk() : vm.boot());
        t.owner = caller.username();
        t.createdAt = Instant.now();
        t.updatedAt = t.createdAt;
        for (int i = 0; i < items.size(); i++) {
            TemplateDiskEntity d = new TemplateDiskEntity();
            d.template = t;
            d.position = (short) i;
            d.libraryItemId = items.get(i).id;
            t.disks.add(d);
        }
        t.persist();
    }

    private static String truncate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64);
    }
}
