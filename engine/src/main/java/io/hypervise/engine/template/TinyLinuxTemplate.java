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
 * Built once from Debian's packages into {@code libraryDir/tiny-linux}, then reused; its 32-bit
 * twin {@code tiny-linux-i386} is built the same way from Debian's i386 packages (see {@link Variant}).
 */
public final class TinyLinuxTemplate {

    public static final String NAME = "tiny-linux";

    /**
     * The architectures the guest is built for; each is a template of its own. Both boot in the same
     * qemu-system-x86_64 (an x86-64 CPU starts 32-bit kernels as well) and run the same guest.sh.
     */
    public enum Variant {
        /** 64-bit: Debian's amd64 kernel and busybox, from the host's own apt. */
        AMD64(NAME, "amd64", "linux-image-amd64"),
        /**
         * 32-bit: Debian's i386 kernel and busybox, from the Debian mirror. The 686-pae flavour rather than
         * 686: only it has CONFIG_PVH (Xen guest support, which PVH comes with, needs PAE on i386), so QEMU
         * starts it straight from its ELF image, 2.5 s instead of 4.7 s to /init under TCG; and every CPU
         * model QEMU offers as -cpu max or host has PAE and NX. The 686 flavour is for CPUs without PAE.
         */
        I386("tiny-linux-i386", "i386", "linux-image-686-pae");

        private final String templateName;
        private final String debianArchitecture;
        private final String kernelMetaPackage;

        Variant(String templateName, String debianArchitecture, String kernelMetaPackage) {
            this.templateName = templateName;
            this.debianArchitecture = debianArchitecture;
            this.kernelMetaPackage = kernelMetaPackage;
        }

        /** The template's name, and its directory in the library. */
        public String templateName() {
            return templateName;
        }

        /** Debian's name for the architecture, e.g. "i386". */
        public String debianArchitecture() {
            return debianArchitecture;
        }

        /** The variant named {@code templateName}, if it is one. */
        public static Optional<Variant> ofTemplate(String templateName) {
            for (Variant v : values()) {
                if (v.templateName.equals(templateName)) {
                    return Optional.of(v);
                }
            }
            return Optional.empty();
        }
    }

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
    record Manifest(String name, String architecture, String kernelVersion, String kernel, String compressedKernel,
            String initramfs, String commandLine, Map<String, String> inputs, List<String> modules, String recipe,
            String builtAt) {}

    private static final String BUSYBOX_PACKAGE = "busybox-static";
    private static final String MANIFEST = "template.json";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    // One build per template directory per JVM; the file lock below covers other processes.
    private static final Map<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

    private TinyLinuxTemplate() {}

    /**
     * Returns the template, building it first if {@code libraryDir/}<i>template name</i> is missing,
     * incomplete or was built by a different recipe (guest files, modules or command line).
     * A build downloads two Debian packages (about 70 MB) into {@code downloadCache} unless they
     * are there already, briefly unpacks the kernel package (400 MB) under {@code libraryDir}, and
     * takes 10 to 30 s. The template itself is about 76 MB.
     */
    public static Built ensure(Variant variant, Path libraryDir, Path downloadCache, Consumer<String> progress)
            throws IOException {
        Path library = libraryDir.toAbsolutePath().normalize();
        Path directory = library.resolve(variant.templateName());
        ReentrantLock lock = LOCKS.computeIfAbsent(directory, l -> new ReentrantLock());
        lock.lock();
        try {
            Files.createDirectories(library);
            try (FileChannel lockFile = FileChannel.open(library.resolve("." + variant.templateName() + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    FileLock ignored = lockFile.lock()) {
                Optional<Built> existing = read(variant, directory);
                if (existing.isPresent()) {
                    return existing.get();
                }
                removeLeftovers(variant, library);
                return build(variant, library, downloadCache.toAbsolutePath().normalize(), progress);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The template if it has been built under {@code libraryDir}; never builds it. */
    public static Optional<Built> existing(Variant variant, Path libraryDir) throws IOException {
        return read(variant, libraryDir.toAbsolutePath().normalize().resolve(variant.templateName()));
    }

    private static Optional<Built> read(Variant variant, Path directory) throws IOException {
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
        if (!recipe(variant).equals(manifest.recipe()) || manifest.kernel() == null || manifest.initramfs() == null
                || !Files.isRegularFile(directory.resolve(manifest.kernel()))
                || !Files.isRegularFile(directory.resolve(manifest.initramfs()))) {
            return Optional.empty();
        }
        return Optional.of(new Built(directory.resolve(manifest.kernel()), directory.resolve(manifest.initramfs()),
                manifest.commandLine(), manifest.kernelVersion()));
    }

    private static Built build(Variant variant, Path library, Path downloadCache, Consumer<String> progress)
            throws IOException {
        Instant start = Instant.now();
        progress.accept("building template " + variant.templateName() + " in " + library);
        Path work = Files.createTempDirectory(library, "." + variant.templateName() + "-build-");
        try {
            Built built = buildIn(variant, work, library, downloadCache, progress);
            progress.accept("template " + variant.templateName() + " ready (kernel " + built.kernelVersion() + ") after "
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

    private static Built buildIn(Variant variant, Path work, Path library, Path downloadCache, Consumer<String> progress)
            throws IOException {
        Inputs inputs;
        try (PackageSource packages = packageSource(variant, downloadCache, progress)) {
            inputs = fetchInputs(variant, packages);
        }
        Path unpacked = work.resolve("unpacked");
        progress.accept("extracting " + inputs.kernel().name());
        DebianPackages.extract(inputs.kernelDeb(), unpacked.resolve("kernel"));
        DebianPackages.extract(inputs.busyboxDeb(), unpacked.resolve("busybox"));

        Path out = Files.createDirectory(work.resolve(variant.templateName()));
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
        Manifest manifest = new Manifest(variant.templateName(), variant.debianArchitecture(), kernelVersion,
                noPvh == null ? "vmlinux" : "vmlinuz", "vmlinuz", "initrd.img", COMMAND_LINE, versions,
                modules.stream().map(KernelModules.Module::name).toList(), recipe(variant), Instant.now().toString());
        // Written last: a template directory is complete exactly when its manifest exists.
        JSON.writeValue(out.resolve(MANIFEST).toFile(), manifest);
        FileTrees.delete(unpacked);

        Path target = library.resolve(variant.templateName());
        install(out, target, work);
        return read(variant, target).orElseThrow(() -> new IOException(
                "template " + variant.templateName() + " was built but cannot be read back from " + library));
    }

    /**
     * The host's apt for its own architecture, as always; for another, the Debian mirror directly, because
     * apt would fetch a foreign architecture only after dpkg --add-architecture, a change to the host.
     */
    private static PackageSource packageSource(Variant variant, Path downloadCache, Consumer<String> progress)
            throws IOException {
        if (variant.debianArchitecture().equals(DebianPackages.hostArchitecture())) {
            return new DebianPackages(downloadCache, progress);
        }
        return new DebianMirror(variant.debianArchitecture(), downloadCache, progress);
    }

    private record Inputs(DebianPackages.Package kernel, Path kernelDeb, DebianPackages.Package busybox, Path busyboxDeb) {}

    /** Resolves and downloads; when the lists do not know a package or it cannot be fetched, refreshes them once. */
    private static Inputs fetchInputs(Variant variant, PackageSource packages) throws IOException {
        try {
            return resolveAndDownload(variant, packages);
        } catch (PackageSource.StaleListsException first) {
            try {
                packages.refresh();
            } catch (IOException refreshFailed) {
                first.addSuppressed(refreshFailed);
                throw first;
            }
            return resolveAndDownload(variant, packages);
        }
    }

    private static Inputs resolveAndDownload(Variant variant, PackageSource packages) throws IOException {
        // linux-image-amd64 is only a pointer to the current ABI's package, e.g. linux-image-6.1.0-56-amd64.
        DebianPackages.Package kernel = packages.candidate(
                packages.candidate(variant.kernelMetaPackage).dependencyStartingWith("linux-image-"));
        DebianPackages.Package busybox = packages.candidate(BUSYBOX_PACKAGE);
        return new Inputs(kernel, packages.download(kernel), busybox, packages.download(busybox));
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
    private static void removeLeftovers(Variant variant, Path library) throws IOException {
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(library, "." + variant.templateName() + "-build-*")) {
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
    static String recipe(Variant variant) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(("tiny-linux recipe 2\n" + variant.debianArchitecture() + " " + variant.kernelMetaPackage + "\n"
                    + COMMAND_LINE + "\n" + TinyLinuxInitramfs.MODULES + "\n").getBytes(StandardCharsets.UTF_8));
            for (String file : TinyLinuxInitramfs.GUEST_FILES) {
                digest.update(TinyLinuxInitramfs.guestFile(file));
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

}
