package io.hypervise.engine;

import io.hypervise.engine.EngineSettings;
import io.hypervise.engine.host.AcceleratorChoice;
import io.hypervise.engine.vm.worker.WorkerJail;
import java.nio.file.Path;

/**
 * How to open an engine.
 *
 * @param storageRoot the only folder VM images may be opened from; holds the library
 * @param qemuBinary  the QEMU system emulator, a path or a name looked up on PATH
 * @param accelerator auto (KVM where the CPU has hardware virtualization, TCG otherwise), or forced
 * @param confinement how each VM's worker is confined (its own user, namespace, seccomp sandbox)
 */
public record EngineConfig(Path storageRoot, String qemuBinary, AcceleratorChoice accelerator, EngineSettings settings,
        WorkerJail.Settings confinement) {

    public EngineConfig(Path storageRoot, String qemuBinary, AcceleratorChoice accelerator, EngineSettings settings) {
        this(storageRoot, qemuBinary, accelerator, settings, WorkerJail.Settings.defaults());
    }

    public EngineConfig withConfinement(WorkerJail.Settings confinement) {
        return new EngineConfig(storageRoot, qemuBinary, accelerator, settings, confinement);
    }

    public static EngineConfig defaults(Path stateDir, Path storageRoot) {
        return new EngineConfig(storageRoot, "qemu-system-x86_64", AcceleratorChoice.AUTO, EngineSettings.defaults(stateDir));
    }
}
