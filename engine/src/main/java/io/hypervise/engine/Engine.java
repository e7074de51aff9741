package io.hypervise.engine;

import io.hypervise.engine.counters.CounterSampler;
import io.hypervise.engine.host.HostCapabilities;
import io.hypervise.engine.host.HostLoad;
import io.hypervise.engine.host.HostProbe;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.storage.DiskImages;
import io.hypervise.engine.storage.StorageRoot;
import io.hypervise.engine.vm.Vms;
import io.hypervise.engine.vm.worker.QemuCommandLine;
import io.hypervise.engine.vm.worker.WorkerCgroups;
import io.hypervise.engine.vm.worker.WorkerJail;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;

/**
 * The hypervisor engine of one host: its capabilities, its storage, and its VMs. Knows nothing of
 * HTTP, users or databases. Opening an engine re-attaches to the workers an earlier engine left running;
 * closing it leaves them running.
 */
public final class Engine implements AutoCloseable {

    /**
     * Unix socket paths are limited to 107 bytes; a VM's longest sockets are
     * {@code <state>/vms/<40-character id>/run/qmp.sock} and its like.
     */
    static final int MAX_STATE_DIR_LENGTH = 48;

    private final HostCapabilities host;
    private final StorageRoot storage;
    private final Vms vms;
    private final DiskImages images;
    private final StateDirectoryLock lock;
    private final CounterSampler counters;
    private final VirtualSwitches switches;

    private Engine(HostCapabilities host, StorageRoot storage, Vms vms, DiskImages images,
            VirtualSwitches switches, StateDirectoryLock lock) {
        this.host = host;
        this.switches = switches;
        this.storage = storage;
        this.vms = vms;
        this.images = images;
        this.lock = lock;
        this.counters = new CounterSampler(vms, this::load, host.cpus(), Clock.systemUTC());
    }

    public static Engine open(EngineConfig config) throws IOException {
        Path stateDir = config.settings().stateDir().toAbsolutePath().normalize();
        if (stateDir.toString().length() > MAX_STATE_DIR_LENGTH) {
            throw new IllegalArgumentException("the engine's state directory " + stateDir + " is "
                    + stateDir.toString().length() + " characters long; at most " + MAX_STATE_DIR_LENGTH
                    + " fit in a unix socket path");
        }
        Files.createDirectories(stateDir);
        StateDirectoryLock lock = StateDirectoryLock.acquire(stateDir);
        try {
            Path qemu = locate(config.qemuBinary());
            HostCapabilities host = new HostProbe().probe(qemu, config.accelerator());
            StorageRoot storage = new StorageRoot(config.storageRoot());
            Files.createDirectories(storage.library());
            DiskImages images = new DiskImages(storage, qemuImg(qemu));
            VirtualSwitches switches = VirtualSwitches.probe();
            Vms vms = new Vms(config.settings(), host.hostname(), storage,
                    new QemuCommandLine(qemu, host.accelerator(), host.uefiFirmware()), host.uefiFirmware(), images,
                    switches, WorkerCgroups.probe(stateDir), WorkerJail.probe(config.confinement(), qemu, stateDir),
                    Clock.systemUTC());
            vms.recover();
            return new Engine(host, storage, vms, images, switches, lock);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    public HostCapabilities host() {
        return host;
    }

    /** How busy the host is now. */
    public HostLoad load() {
        return new HostProbe().load(storage.path());
    }

    public StorageRoot storage() {
        return storage;
    }

    public Vms vms() {
        return vms;
    }

    /** Utilization counters of the VMs and the host; not sampling until {@link CounterSampler#start} is called. */
    public CounterSampler counters() {
        return counters;
    }

    /** The host's virtual switches, the ports VMs' adapters plug into. */
    public VirtualSwitches switches() {
        return switches;
    }

    /** The images VMs own: blank disks created for them, deleted with them. */
    public DiskImages images() {
        return images;
    }

    @Override
    public void close() {
        try {
            counters.close();
            vms.close();
        } finally {
            lock.close();
        }
    }

    /** qemu-img beside the QEMU binary (as Debian installs them), else from PATH. */
    static Path qemuImg(Path qemu) {
        Path beside = qemu.resolveSibling("qemu-img");
        return Files.isExecutable(beside) ? beside : locate("qemu-img");
    }

    /** A name without a slash is looked up on PATH, as a shell would. */
    static Path locate(String binary) {
        if (binary.contains("/")) {
            return Path.of(binary);
        }
        String path = Optional.ofNullable(System.getenv("PATH")).orElse("/usr/bin:/bin");
        for (String dir : path.split(File.pathSeparator)) {
            Path candidate = Path.of(dir, binary);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return Path.of(binary);
    }
}
