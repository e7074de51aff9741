package io.hypervise.engine.template;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.hypervise.engine.storage.FileTrees;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The default guest template, {@code tiny-linux}: Debian's stock kernel and an initramfs with
 * busybox whose /init reports the devices it sees, prints a readiness marker and a counter on the
 * serial port, keeps a root shell on the screen and powers off on the ACPI power button.
 * Built once from the host's Debian packages into {@code libraryDir/tiny-linux}, then reused.
 */
public final class TinyLinuxTemplate {

    public static final String NAME = "tiny-linux";

    /**
     * console=ttyS0: kernel messages and /dev/console on the serial port the engine logs.
     * quiet: fewer slow serial writes. cryptomgr.notests: skips the crypto self-tests, 0.3 s under TCG.
     * panic=-1: a panicking guest reboots at once instead of hanging; QEMU's -no-reboot (or
     * -action reboot=shutdown) turns that into a worker exit if the engine prefers.
     */
    public static final String COMMAND_LINE = "console=ttyS0 quiet cryptomgr.notests panic=-1";

    /**
     * What the guest prints on ttyS0, one line each (resource tiny-linux/guest.sh): "hv-disk NAME BYTES"
     * and "hv-nic NAME MAC" per device, "hv-arch MACHINE" (uname -m: x86_64, or i686 in tiny-linux-i386),
     * then the ready marker, then "hv-counter N" every second from 0, and the power-off marker when the
     * ACPI power button is pressed.
     */
    public static final String DISK_PREFIX = "hv-disk ";
    public static final String NIC_PREFIX = "hv-nic ";
    public static final String ARCH_PREFIX = "hv-arch ";
    public static final String READY_MARKER = "HYPERVISE-READY";
    public static final String COUNTER_PREFIX = "hv-counter ";
    public static final String POWEROFF_MARKER = "HYPERVISE-POWEROFF";

    /**
     * @param kernel what to pass to QEMU's -kernel: the uncompressed PVH-bootable vmlinux when the
     *     kernel allows it (much faster under TCG), otherwise Debian's vmlinuz
     */
    public record Built(Path kernel, Path initramfs, String commandLine, String kernelVersion) {}

    /** template.json: what was built, and from what. */
    record Manifest(String name, String kernelVersion, String kernel, String compressedKernel, String initramfs,
            String commandLine, Map<String, String> inputs, List<String> modules, String recipe, String builtAt) {}

    private static final String KERNEL_META_PACKAGE = "linux-image-amd64";
    private static final String BUSYBOX_PACKAGE = "busybox-static";
    private static final String MANIFEST = "template.json";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    // One build per library per JVM; the file lock below covers other processes.
    private static final Map<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

    private TinyLinuxTemplate() {}

    /**
     * Returns the template, building it first if {@code libraryDir/tiny-linux} is missing,
     * incomplete or was built by a different recipe (guest files, modules or command line).
     * A build downloads two Debian packages (about 70 MB) into {@code downloadCache} unless they
     * are there already, briefly unpacks the kernel package (400 MB) under {@code libraryDir}, and
     * takes 10 to 30 s. The template itself is about 76 MB.
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
                Path directory = library.resolve(NAME);
                Optional<Built> existing = read(directory);
                if (existing.isPresent()) {
                    return existing.get();
                }
                removeLeftovers(library);
                return build(library, downloadCache.toAbsolutePath().normalize(), progress);
            }
        } finally {
            lock.unlock();
        }
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
        if (!recipe().equals(manifest.recipe()) || manifest.kernel() == null || manifest.initramfs() == null
                || !Files.isRegularFile(directory.resolve(manifest.kernel()))
                || !Files.isRegularFile(directory.resolve(manifest.initramfs()))) {
            return Optional.empty();
        }
        return Optional.of(new Built(directory.resolve(manifest.kernel()), directory.resolve(manifest.initramfs()),
                manifest.commandLine(), manifest.kernelVersion()));
    }

    private static Built build(Path library, Path downloadCache, Consumer<String> progress) throws IOException {
        Instant start = Instant.now();
        progress.accept("building template " + NAME + " in " + library);
        Path work = Files.createTempDirectory(library, "." + NAME + "-build-");
        try {
            Built built = buildIn(work, library, downloadCache, progress);
            progress.accept("template " + NAME + " ready (kernel " + built.kernelVersion() + ") after "
                    + Duration.between(start, Instant.now()).toSeconds() + " s");
            FileTrees.delete(work);
            return built;
        } catch (IOException | RuntimeException | Error failure) {
            try {
                FileTrees.delete(work);
            } catch (IOException cleanup) {
                failure.addSuppressed(cleanup);
            }
            throw failure;
        }
    }

    private static Built buildIn(Path work, Path library, Path downloadCache, Consumer<String> progress)
            throws IOException {
        DebianPackages apt = new DebianPackages(downloadCache, progress);
        Inputs inputs = fetchInputs(apt);
        Path unpacked = work.resolve("unpacked");
        progress.accept("extracting " + inputs.kernel().name());
        apt.extract(inputs.kernelDeb(), unpacked.resolve("kernel"));
        apt.extract(inputs.busyboxDeb(), unpacked.resolve("busybox"));

        Path out = Files.createDirectory(work.resolve(NAME));
        Path vmlinuz = findKernel(unpacked.resolve("kernel"));
        String kernelVersion = vmlinuz.getFileName().toString().substring("vmlinuz-".length());
        List<KernelModules.Module> modules = KernelModules.index(findModules(unpacked.resolve("kernel"), kernelVersion))
                .withDependencies(TinyLinuxInitramfs.MODULES);
        progress.accept("writing initramfs (" + modules.size() + " modules)");
        TinyLinuxInitramfs.write(out.resolve("initrd.img"), findBusybox(unpacked.resolve("busybox")), modules);
        Files.copy(vmlinuz, out.resolve("vmlinuz"));

        progress.accept("unpacking the kernel for direct (PVH) boot");
        String noPvh = PvhKernel.extract(vmlinuz, out.resolve("vmlinux"));
        if (noPvh != null) {
            progress.accept("booting the compressed kernel instead, about 2.5 s slower under TCG: vmlinuz is " + noPvh);
        }
        Map<String, String> versions = new LinkedHashMap<>();
        versions.put(inputs.kernel().name(), inputs.kernel().version());
        versions.put(inputs.busybox().name(), inputs.busybox().version());
        Manifest manifest = new Manifest(NAME, kernelVersion, noPvh == null ? "vmlinux" : "vmlinuz", "vmlinuz",
                "initrd.img", COMMAND_LINE, versions, modules.stream().map(KernelModules.Module::name).toList(),
                recipe(), Instant.now().toString());
        // Written last: a template directory is complete exactly when its manifest exists.
        JSON.writeValue(out.resolve(MANIFEST).toFile(), manifest);
        FileTrees.delete(unpacked);

        install(out, library.resolve(NAME), work);
        return read(library.resolve(NAME)).orElseThrow(
                () -> new IOException("template " + NAME + " was built but cannot be read back from " + library));
    }

    private record Inputs(DebianPackages.Package kernel, Path kernelDeb, DebianPackages.Package busybox, Path busyboxDeb) {}

    /** Resolves and downloads; when apt does not know a package or cannot fetch it, refreshes its lists once. */
    private static Inputs fetchInputs(DebianPackages apt) throws IOException {
        try {
            return resolveAndDownload(apt);
        } catch (DebianPackages.AptException first) {
            try {
                apt.updateLists();
            } catch (IOException updateFailed) {
                first.addSuppressed(updateFailed);
                throw first;
            }
            return resolveAndDownload(apt);
        }
    }

    private static Inputs resolveAndDownload(DebianPackages apt) throws IOException {
        // linux-image-amd64 is only a pointer to the current ABI's package, e.g. linux-image-6.1.0-56-amd64.
        DebianPackages.Package kernel = apt.candidate(apt.candidate(KERNEL_META_PACKAGE).dependencyStartingWith("linux-image-"));
        DebianPackages.Package busybox = apt.candidate(BUSYBOX_PACKAGE);
        return new Inputs(kernel, apt.download(kernel), busybox, apt.download(busybox));
    }

    /** Moves the finished directory into place with one rename, so readers see all of it or none. */
    private static void install(Path built, Path target, Path work) throws IOException {
        if (Files.exists(target)) {
            // An outdated or incomplete template: move it aside first (rename cannot replace a
            // non-empty directory); if we crash in between there is no template, and the next call rebuilds.
            Files.move(target, work.resolve("replaced"), StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(built, target, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Build directories of a process that died mid-build; safe to remove while we hold the lock. */
    private static void removeLeftovers(Path library) throws IOException {
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(library, "." + NAME + "-build-*")) {
            for (Path leftover : leftovers) {
                FileTrees.delete(leftover);
            }
        }
    }

    private static Path findKernel(Path root) throws IOException {
        try (DirectoryStream<Path> kernels = Files.newDirectoryStream(root.resolve("boot"), "vmlinuz-*")) {
            for (Path kernel : kernels) {
                return kernel;
            }
        } catch (NoSuchFileException e) {
            // reported below with the package's name for it
        }
        throw new IOException("the kernel package has no boot/vmlinuz-* (looked in " + root + ")");
    }

    private static Path findModules(Path root, String kernelVersion) throws IOException {
        // Debian 12 ships /lib/modules; merged-/usr releases ship /usr/lib/modules.
        for (String dir : List.of("lib/modules/", "usr/lib/modules/")) {
            Path modules = root.resolve(dir + kernelVersion);
            if (Files.isDirectory(modules)) {
                return modules;
            }
        }
        throw new IOException("the kernel package has no lib/modules/" + kernelVersion + " (looked in " + root + ")");
    }

    private static Path findBusybox(Path root) throws IOException {
        for (String candidate : List.of("bin/busybox", "usr/bin/busybox")) {
            if (Files.isRegularFile(root.resolve(candidate))) {
                return root.resolve(candidate);
            }
        }
        throw new IOException(BUSYBOX_PACKAGE + " has no bin/busybox (looked in " + root + ")");
    }

    /** Identifies what the guest is made of besides the packages: a change rebuilds the template. */
    static String recipe() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(("tiny-linux recipe 1\n" + COMMAND_LINE + "\n" + TinyLinuxInitramfs.MODULES + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            for (String file : TinyLinuxInitramfs.GUEST_FILES) {
                digest.update(TinyLinuxInitramfs.guestFile(file));
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

}
