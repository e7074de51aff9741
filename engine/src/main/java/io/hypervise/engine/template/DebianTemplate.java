package io.hypervise.engine.template;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.vm.definition.DiskFormat;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The {@code debian-12} template: a Debian 12 (bookworm, amd64) disk that boots through the firmware,
 * BIOS or UEFI, into its own GRUB and its own kernel, shows its boot and a login prompt on the serial
 * port, and at first boot takes its host name, a user, SSH keys and password from a NoCloud seed
 * ({@link NoCloudSeed}). Built once from Debian's packages into {@code libraryDir/debian-12}, then reused;
 * a VM boots from a copy of its disk (the engine builds no backing chains).
 */
public final class DebianTemplate {

    public static final String NAME = "debian-12";

    /**
     * Serial console last, so it is /dev/console: systemd's status and the login prompt go there; the
     * screen (tty0) shows the kernel's messages too and gets its own login.
     */
    public static final String COMMAND_LINE = "console=tty0 console=ttyS0,115200";

    /** The account a seed usually creates; the template itself has no login but root's, locked. */
    public static final String DEFAULT_USER = "debian";

    /**
     * @param disk the compressed qcow2 image; copy it for a VM, never attach the template itself
     * @param virtualSizeBytes what the guest sees as its disk's size
     */
    public record Built(Path disk, DiskFormat format, long virtualSizeBytes, String kernelVersion) {}

    /** template.json: what was built, and from what. */
    record Manifest(String name, String disk, String format, long virtualSizeBytes, String kernelVersion, String rootUuid,
            String suite, List<String> packages, String commandLine, String recipe, String builtAt, long buildSeconds) {}

    private static final String DISK = "disk.qcow2";
    private static final String MANIFEST = "template.json";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    // One build per library per JVM; the file lock below covers other processes.
    private static final Map<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

    private DebianTemplate() {}

    /**
     * Returns the template, building it first if {@code libraryDir/debian-12} is missing, incomplete or
     * was built by a different recipe. Building needs root (debootstrap, chroot), the Debian packages
     * debootstrap, fdisk, e2fsprogs, mtools and qemu-utils, and Debian's mirror (whose indexes debootstrap
     * reads every time). It takes about 4 minutes here and 1.5 GB under {@code libraryDir} while it runs;
     * the packages (about 120 MB) stay in {@code downloadCache} for the next build. The template is about 200 MB.
     */
    public static Built ensure(Path libraryDir, Path downloadCache, Consumer<String> progress) throws IOException {
        Path library = libraryDir.toAbsolutePath().normalize();
        ReentrantLock lock = LOCKS.computeIfAbsent(library, l -> new ReentrantLock());
        lock.lock();
        try {
            Files.createDirectories(library);
            try (FileChannel lockFile = FileChannel.open(library.resolve("." + NAME + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    FileLock ignored = lockFile.lock()) {
                Optional<Built> existing = read(library.resolve(NAME));
                if (existing.isPresent()) {
                    return existing.get();
                }
                removeLeftovers(library);
                Path cached = downloadCache.toAbsolutePath().normalize().resolve("templates").resolve(NAME);
                if (read(cached).isPresent()) {
                    // Built by another checkout or data folder on this machine, from the same recipe: a copy is seconds.
                    progress.accept("copying template " + NAME + " from " + cached);
                    return place(cached, library);
                }
                Built built = build(library, downloadCache.toAbsolutePath().normalize(), progress);
                try {
                    Files.createDirectories(cached.getParent());
                    BuildDirectory.delete(cached);
                    place(library.resolve(NAME), cached.getParent());
                } catch (IOException e) {
                    progress.accept("could not keep a copy of the template in " + cached + ": " + e.getMessage());
                }
                return built;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Copies a built template's folder into {@code parent}/debian-12, whole or not at all. */
    private static Built place(Path from, Path parent) throws IOException {
        Path staging = Files.createTempDirectory(parent, "." + NAME + "-copy-");
        try {
            Files.copy(from.resolve(DISK), staging.resolve(DISK));
            Files.copy(from.resolve(MANIFEST), staging.resolve(MANIFEST));
            Files.move(staging, parent.resolve(NAME), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            BuildDirectory.delete(staging);
            throw e;
        }
        return read(parent.resolve(NAME)).orElseThrow(() -> new IOException("the template copied to " + parent + " is incomplete"));
    }

    /** The template if it has been built under {@code libraryDir}; never builds it. */
    public static Optional<Built> existing(Path libraryDir) throws IOException {
        return read(libraryDir.toAbsolutePath().normalize().resolve(NAME));
    }

    private static Optional<Built> read(Path directory) throws IOException {
        Path manifestFile = directory.resolve(MANIFEST);
        if (!Files.isRegularFile(manifestFile)) {
            return Optional.empty();
        }
        Manifest manifest;
        try {
            manifest = JSON.readValue(manifestFile.toFile(), Manifest.class);
        } catch (JsonProcessingException damaged) {
            return Optional.empty(); // not an error for the caller: a damaged template is rebuilt
        }
        if (!recipe().equals(manifest.recipe()) || manifest.disk() == null
                || !Files.isRegularFile(directory.resolve(manifest.disk()))) {
            return Optional.empty();
        }
        return Optional.of(new Built(directory.resolve(manifest.disk()), DiskFormat.QCOW2, manifest.virtualSizeBytes(),
                manifest.kernelVersion()));
    }

    private static Built build(Path library, Path downloadCache, Consumer<String> progress) throws IOException {
        Instant start = Instant.now();
        progress.accept("building template " + NAME + " in " + library);
        Path work = Files.createTempDirectory(library, "." + NAME + "-build-");
        try {
            Built built = buildIn(work, library, downloadCache, progress, start);
            progress.accept("template " + NAME + " ready (kernel " + built.kernelVersion() + ", "
                    + Files.size(built.disk()) / (1 << 20) + " MiB) after " + Duration.between(start, Instant.now()).toSeconds() + " s");
            BuildDirectory.delete(work);
            return built;
        } catch (IOException | RuntimeException | Error failure) {
            try {
                BuildDirectory.delete(work);
            } catch (IOException cleanup) {
                failure.addSuppressed(cleanup);
            }
            throw failure;
        }
    }

    private static Built buildIn(Path work, Path library, Path downloadCache, Consumer<String> progress, Instant start)
            throws IOException {
        HostTools tools = new HostTools("building the " + NAME + " template");
        String rootUuid = UUID.randomUUID().toString();
        String espVolumeId = HexFormat.of().withUpperCase().toHexDigits(ThreadLocalRandom.current().nextInt());

        DebianRootFs root = new DebianRootFs(work.resolve("root"), tools, progress);
        root.bootstrap(downloadCache.resolve("debootstrap-" + DebianRootFs.SUITE));
        String kernelVersion = root.kernelVersion();
        progress.accept("configuring the guest (kernel " + kernelVersion + ")");
        root.configure(rootUuid, espVolumeId.substring(0, 4) + "-" + espVolumeId.substring(4), COMMAND_LINE);
        DebianRootFs.GrubImages grub = root.makeGrubImages(rootUuid, work.resolve("grub"));

        progress.accept("writing the disk image (GPT: BIOS boot, EFI system, ext4 root)");
        BootDiskImage image = new BootDiskImage(tools);
        Path raw = work.resolve("disk.raw");
        image.writeRaw(raw, work.resolve("root"), rootUuid, espVolumeId, grub);
        BuildDirectory.delete(work.resolve("root"));
        Path out = Files.createDirectory(work.resolve(NAME));
        progress.accept("compressing the disk image into qcow2");
        image.convertToQcow2(raw, out.resolve(DISK));
        Files.delete(raw);

        Manifest manifest = new Manifest(NAME, DISK, "qcow2", BootDiskImage.DISK_MIB << 20, kernelVersion, rootUuid,
                DebianRootFs.SUITE, DebianRootFs.PACKAGES, COMMAND_LINE, recipe(), Instant.now().toString(),
                Duration.between(start, Instant.now()).toSeconds());
        // Written last: a template directory is complete exactly when its manifest exists.
        JSON.writeValue(out.resolve(MANIFEST).toFile(), manifest);
        install(out, library.resolve(NAME), work);
        return read(library.resolve(NAME)).orElseThrow(
                () -> new IOException("template " + NAME + " was built but cannot be read back from " + library));
    }

    /** Moves the finished directory into place with one rename, so readers see all of it or none. */
    private static void install(Path built, Path target, Path work) throws IOException {
        if (Files.exists(target)) {
            Files.move(target, work.resolve("replaced"), StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(built, target, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Build directories of a process that died mid-build; safe to remove while we hold the lock. */
    private static void removeLeftovers(Path library) throws IOException {
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(library, "." + NAME + "-{build,copy}-*")) {
            for (Path leftover : leftovers) {
                BuildDirectory.delete(leftover);
            }
        }
    }

    /** Identifies what the guest is made of besides Debian's archive: a change rebuilds the template. */
    static String recipe() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(String.join("\n", "debian-12 recipe 1", COMMAND_LINE, DebianRootFs.SUITE, DebianRootFs.MIRROR,
                    DebianRootFs.PACKAGES.toString(), DebianRootFs.INITRAMFS_MODULES.toString(),
                    BootDiskImage.partitionTable()).toLowerCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8));
            for (String file : DebianRootFs.GUEST_FILES) {
                digest.update(DebianRootFs.guestFile(file));
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
