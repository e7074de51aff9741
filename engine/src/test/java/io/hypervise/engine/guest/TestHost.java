package io.hypervise.engine.guest;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.template.BootCheckIso;
import io.hypervise.engine.template.DebianTemplate;
import io.hypervise.engine.template.TinyLinuxTemplate;
import io.hypervise.engine.vm.definition.Definitions;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.VmDefinitionValidator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A throw-away host for tests: a storage root holding a tiny-linux template and a state directory,
 * both in a fresh folder under /tmp (short, since unix socket paths are). {@link #close()} kills every
 * worker whose command line names this host's state directory and deletes the folder, whether the
 * tests passed or not.
 */
public final class TestHost implements AutoCloseable {

    /** Template downloads and builds are cached across runs; building takes a minute the first time. */
    private static final Path CACHE = Path.of(System.getProperty("user.home"), ".cache", "hypervise");

    private final Path dir;
    private final Path storageRoot;
    private final Path stateDir;
    private final Path kernel;
    private final Path initramfs;
    private final String commandLine;

    private TestHost(Path dir, TinyLinuxTemplate.Variant variant) throws IOException {
        TinyLinuxTemplate.Built template = template(variant);
        this.dir = dir;
        this.storageRoot = Files.createDirectories(dir.resolve("storage"));
        this.stateDir = Files.createDirectories(dir.resolve("state"));
        Path library = Files.createDirectories(storageRoot.resolve("library/" + variant.templateName()));
        this.kernel = copyOnce(template.kernel(), library.resolve(template.kernel().getFileName()));
        this.initramfs = copyOnce(template.initramfs(), library.resolve("initrd.img"));
        this.commandLine = template.commandLine();
    }

    public static TestHost create() throws IOException {
        return create(TinyLinuxTemplate.Variant.AMD64);
    }

    /** A host whose {@link #tinyLinux} VMs boot the given variant, e.g. the 32-bit one. */
    public static TestHost create(TinyLinuxTemplate.Variant variant) throws IOException {
        return new TestHost(Files.createTempDirectory(Path.of("/tmp"), "hv"), variant);
    }

    /** The same host seen from another process, e.g. one that plays a server about to crash. */
    public static TestHost attach(Path dir) throws IOException {
        return new TestHost(dir, TinyLinuxTemplate.Variant.AMD64);
    }

    private static TinyLinuxTemplate.Built template(TinyLinuxTemplate.Variant variant) throws IOException {
        return TinyLinuxTemplate.ensure(variant, CACHE.resolve("library"), CACHE.resolve("downloads"),
                line -> System.out.println("[" + variant.templateName() + "] " + line));
    }

    /** The debian-12 template, cached with tiny-linux; its first build takes several minutes. */
    public static DebianTemplate.Built debianTemplate() throws IOException {
        return DebianTemplate.ensure(CACHE.resolve("library"), CACHE.resolve("downloads"),
                line -> System.out.println("[debian-12] " + line));
    }

    private static Path copyOnce(Path from, Path to) throws IOException {
        return Files.exists(to) ? to : Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
    }

    public Engine openEngine() throws IOException {
        return Engine.open(EngineConfig.defaults(stateDir, storageRoot));
    }

    public Path stateDir() {
        return stateDir;
    }

    public Path storageRoot() {
        return storageRoot;
    }

    /** A VM that boots tiny-linux directly from its kernel and initramfs. */
    public Definitions tinyLinux(String id) {
        return Definitions.aVm(new BootSource.Kernel(kernel, initramfs, commandLine)).withId(id).withName(id);
    }

    /** A tiny-linux VM whose kernel command line also carries {@code switches} (e.g. "hv.burn=10"). */
    public Definitions tinyLinux(String id, String switches) {
        return Definitions.aVm(new BootSource.Kernel(kernel, initramfs, commandLine + " " + switches)).withId(id)
                .withName(id);
    }

    /** The boot-check ISO (built once into the cache), in this host's library where VMs may open it. */
    public Path bootCheckIso() throws IOException {
        Path library = Files.createDirectories(storageRoot.resolve("library"));
        return copyOnce(BootCheckIso.ensure(CACHE.resolve("iso")), library.resolve("boot-check.iso"));
    }

    /** Creates an empty disk image with qemu-img. */
    public Path newDisk(String name, String format, String size) throws IOException, InterruptedException {
        Path image = storageRoot.resolve(name);
        Process p = new ProcessBuilder("qemu-img", "create", "-q", "-f", format, image.toString(), size)
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException("qemu-img create failed: " + out);
        }
        return image;
    }

    /** Every live process whose command line mentions this host's state directory: its workers. */
    public List<ProcessHandle> workers() {
        String marker = stateDir.toString();
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().arguments().map(args -> String.join(" ", args).contains(marker)).orElse(false))
                .toList();
    }

    /**
     * Removes a switch a test made, with the ports of the VMs on it: once {@link #close()} has killed
     * their workers, no engine is left to unplug them.
     */
    public static void removeSwitch(String switchId, String... vms) {
        VirtualSwitches switches = VirtualSwitches.probe();
        for (String vm : vms) {
            switches.unplug(vm, VmDefinitionValidator.MAX_NICS);
        }
        if (switches.find(switchId).isPresent()) {
            switches.delete(switchId);
        }
    }

    @Override
    public void close() throws IOException {
        for (ProcessHandle worker : workers()) {
            worker.destroyForcibly();
            worker.onExit().join();
        }
        FileTrees.delete(dir);
    }
}
