package io.hypervise.server.library;

import io.hypervise.engine.Engine;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.storage.ImageFormat;
import io.hypervise.engine.storage.ImageInspection;
import io.hypervise.engine.storage.MalformedImageException;
import io.hypervise.engine.storage.vhd.ParentResolver;
import io.hypervise.engine.storage.vhd.VhdDescription;
import io.hypervise.engine.storage.vhd.VhdImport;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.jobs.Jobs;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Locale;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Brings one file into the library, the same way for an upload and for a host file: its format checked
 * by our own code (declared or detected, never probed, no file it names), its SHA-256 taken (and compared
 * with the one the uploader gave), VHD (by Hypervise's own reader, differencing chains included) and VHDX
 * converted to qcow2, the result placed under
 * {@code items/<id>/}, and only then the item recorded. A failure leaves no item and no file behind.
 */
@ApplicationScoped
public class LibraryImport {

    private static final Logger LOG = Logger.getLogger(LibraryImport.class);

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    /**
     * Imports {@code source} as item {@code id}; with {@code move}, the source (an upload's part file) is
     * moved, not copied, where no conversion is needed. {@code before} runs in the transaction that
     * records the item (an upload's row goes in it).
     */
    public LibraryItemEntity run(String id, Path source, boolean move, ItemSpec spec, Jobs.Progress progress,
            Consumer<LibraryItemEntity> before) throws IOException {
        return run(id, source, move, spec, ParentResolver.NONE, progress, before);
    }

    /**
     * As {@link #run(String, Path, boolean, ItemSpec, Jobs.Progress, Consumer)}; a differencing VHD's
     * parents are looked up through {@code parents} only (never by the paths its header names).
     */
    public LibraryItemEntity run(String id, Path source, boolean move, ItemSpec spec, ParentResolver parents,
            Jobs.Progress progress, Consumer<LibraryItemEntity> before) throws IOException {
        ImageInspection found = inspect(source, spec.declared());
        checkKind(spec.kind(), found.format());
        String sha256 = sha256(source, found.actualBytes() > 0 ? Files.size(source) : 1, p -> progress.percent(p / 2));
        if (spec.expectedSha256() != null && !spec.expectedSha256().equals(sha256)) {
            throw new MalformedImageException("has SHA-256 " + sha256 + ", not the " + spec.expectedSha256()
                    + " it was announced with: the upload was damaged or is another file");
        }
        Path folder = itemFolder(id);
        if (QuarkusTransaction.requiringNew().call(() -> LibraryItemEntity.count("id", id)) > 0) {
            throw new IllegalStateException("library item " + id + " exists already");
        }
        // What an import of this id that a dying server cut short left (the id has no row): start afresh.
        FileTrees.delete(folder);
        try {
            Files.createDirectories(folder);
            DiskFormat format = switch (found.format()) {
                case VHD, VHDX, QCOW2 -> DiskFormat.QCOW2;
                case ISO, RAW -> DiskFormat.RAW;
            };
            Path target = folder.resolve(id + (found.format() == ImageFormat.ISO ? ".iso" : format == DiskFormat.QCOW2 ? ".qcow2" : ".img"));
            boolean convert = found.format() == ImageFormat.VHD || found.format() == ImageFormat.VHDX;
            if (found.format() == ImageFormat.VHD) {
                // QEMU's vpc driver would read a differencing disk as if it had no parent: our own reader
                // flattens the chain into a sparse raw file, which qemu-img then turns into qcow2.
                Path raw = folder.resolve(id + ".raw.part");
                new VhdImport(parents).toRaw(source, raw, (done, total) -> progress.percent(50 + done * 25 / Math.max(1, total)));
                try {
                    engine.images().copy(raw, DiskFormat.RAW, target, format, p -> progress.percent(75 + p / 4));
                } finally {
                    Files.deleteIfExists(raw);
                }
            } else if (convert || !move) {
                // qemu-img, told both formats, writes a sparse copy (a VHD or VHDX becomes qcow2) with progress.
                engine.images().copy(source, found.format().diskFormat(), target, format, p -> progress.percent(50 + p / 2));
            } else {
                // A second name for the same bytes, so the upload's part file stays whole until the item's row
                // has committed: a server that dies in between imports it again at its next start.
                Files.createLink(target, source);
            }
            ImageInspection stored = engine.images().inspect(target, found.format() == ImageFormat.ISO ? ImageFormat.ISO
                    : ImageFormat.valueOf(format.name()));
            LibraryItemEntity item = new LibraryItemEntity();
            item.id = id;
            item.hostId = localHost.id();
            item.name = spec.name();
            item.description = spec.description() == null ? "" : spec.description();
            item.kind = spec.kind();
            item.format = format;
            item.sourceFormat = found.format();
            item.virtualBytes = stored.virtualBytes();
            item.actualBytes = stored.actualBytes();
            item.sha256 = sha256;
            item.owner = spec.owner();
            item.visibility = spec.visibility();
            item.groups = spec.visibility() == Visibility.GROUPS ? spec.groups() : new String[0];
            item.file = engine.storage().library().relativize(target).toString();
            item.createdAt = Instant.now();
            QuarkusTransaction.requiringNew().run(() -> {
                before.accept(item);
                item.persist();
            });
            if (move) {
                Files.deleteIfExists(source);
            }
            LOG.infof("library item '%s' (%s) imported on host %s for %s: %s %s, %d bytes virtual", item.name, id,
                    localHost.id(), spec.owner(), item.kind.id(), item.sourceFormat.id(), item.virtualBytes);
            return item;
        } catch (IOException | RuntimeException e) {
            FileTrees.delete(folder);
            throw e;
        }
    }

    /** The folder of an item's file. */
    public Path itemFolder(String id) {
        return engine.storage().library().resolve("items").resolve(id);
    }

    /**
     * What the file is. A VHD is read by our own VHD reader (which checks its footer, header and table, and
     * names a differencing disk's parent without opening it); anything else by the image inspector.
     */
    private ImageInspection inspect(Path source, ImageFormat declared) throws IOException {
        if (ImageFormat.detect(source) == ImageFormat.VHD && (declared == null || declared == ImageFormat.VHD)) {
            VhdDescription vhd = VhdImport.describe(source);
            return new ImageInspection(ImageFormat.VHD, vhd.type().name().toLowerCase(Locale.ROOT), vhd.virtualSize(),
                    Files.size(source));
        }
        return engine.images().inspect(source, declared);
    }

    private static void checkKind(ItemKind kind, ImageFormat format) throws MalformedImageException {
        if (kind == ItemKind.ISO && format != ImageFormat.ISO) {
            throw new MalformedImageException("is not an ISO 9660 image (no CD001 volume descriptor); it looks like "
                    + format.id() + ": add it as a disk");
        }
        if (kind == ItemKind.DISK && format == ImageFormat.ISO) {
            throw new MalformedImageException("is an ISO 9660 image; add it as kind iso, to be attached as a CD-ROM");
        }
    }

    /** The file's SHA-256, read in 1 MiB steps; {@code progress} hears the percentage read. */
    static String sha256(Path file, long size, java.util.function.LongConsumer progress) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buffer = new byte[1 << 20];
        long done = 0;
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
                done += n;
                progress.accept(done * 100 / Math.max(1, size));
            }
        }
        return HexFormat.of().formatHex(digest.digest()).toLowerCase(Locale.ROOT);
    }
}
