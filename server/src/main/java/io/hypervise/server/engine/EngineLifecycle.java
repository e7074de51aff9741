package io.hypervise.server.engine;

import io.hypervise.engine.Engine;
import io.hypervise.engine.EngineConfig;
import io.hypervise.engine.EngineSettings;
import io.hypervise.engine.host.AcceleratorChoice;
import io.hypervise.engine.vm.worker.WorkerJail;
import io.hypervise.server.config.ServerConfig;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.jboss.logging.Logger;

/**
 * The one place where the framework-free engine meets Quarkus: it is opened when the server starts
 * (re-attaching to every worker still running) and closed when it stops, which leaves the VMs running.
 */
@ApplicationScoped
public class EngineLifecycle {

    private static final Logger LOG = Logger.getLogger(EngineLifecycle.class);

    @Produces
    @Singleton
    @Startup
    Engine engine(ServerConfig config) {
        EngineConfig engineConfig = engineConfig(config);
        try {
            Engine engine = Engine.open(engineConfig);
            WorkerJail.Status jail = engine.vms().confinement();
            LOG.infof("engine open: accelerator %s (%s), QEMU %s, workers %s, %d VMs, state in %s, storage in %s",
                    engine.host().accelerator(), engine.host().acceleratorReason(), engine.host().qemuVersion(),
                    jail.confined() ? "confined" : "NOT confined (" + String.join("; ", jail.unavailable()) + ")",
                    engine.vms().list().size(), engineConfig.settings().stateDir().toAbsolutePath(), engine.storage().path());
            return engine;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the engine: " + e.getMessage(), e);
        }
    }

    /**
     * The engine's part of the server's configuration, in the engine's own terms: the state directory and
     * storage root default to folders of the data directory; timeouts the server does not expose keep the
     * engine's defaults.
     */
    static EngineConfig engineConfig(ServerConfig config) {
        Path stateDir = config.stateDir().orElse(config.dataDir().resolve("state"));
        Path storageRoot = config.storageRoot().orElse(config.dataDir().resolve("storage"));
        EngineSettings settings = EngineSettings.defaults(stateDir).withShutdownTimeout(config.shutdownTimeout());
        return new EngineConfig(storageRoot, config.qemuBinary(), AcceleratorChoice.parse(config.accelerator()), settings,
                new WorkerJail.Settings(confinementMode(config.confinement().mode()), config.confinement().firstUid(),
                        config.confinement().uids()));
    }

    static WorkerJail.Mode confinementMode(String mode) {
        return switch (mode.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "required" -> WorkerJail.Mode.REQUIRED;
            case "where-available" -> WorkerJail.Mode.WHERE_AVAILABLE;
            case "off" -> WorkerJail.Mode.OFF;
            default -> throw new IllegalArgumentException("hypervise.confinement.mode must be required, where-available"
                    + " or off; got '" + mode + "'");
        };
    }

    void close(@Disposes Engine engine) {
        engine.close();
        LOG.info("engine closed; running VMs go on without the server");
    }
}
