package io.hypervise.server.engine;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** The server's settings for its engine. Defaults suit a laptop: everything under ./data. */
@ConfigMapping(prefix = "hypervise")
public interface HyperviseConfig {

    /** Where the host keeps its state and storage unless they are set one by one. */
    @WithDefault("data")
    Path dataDir();

    /** The engine's state directory (sockets, logs, saved states); default {@code <data-dir>/state}. */
    Optional<Path> stateDir();

    /** The storage root, the only folder VM images are opened from; default {@code <data-dir>/storage}. */
    Optional<Path> storageRoot();

    /** Where downloaded Debian packages for templates are cached; default ~/.cache/hypervise/downloads. */
    Optional<Path> downloadCache();

    @WithDefault("qemu-system-x86_64")
    String qemuBinary();

    /** auto, kvm or tcg. */
    @WithDefault("auto")
    String accelerator();

    /** How long a guest has to act on the power button before it is turned off. */
    @WithDefault("60s")
    Duration shutdownTimeout();

    DemoVm demoVm();

    Keycloak keycloak();

    /** Where the realm lives; the OIDC settings refer to it. */
    interface Keycloak {
        @WithDefault("http://127.0.0.1:8180/realms/hypervise")
        String realmUrl();
    }

    /** A VM booted from the tiny-linux template when the server starts, so a newcomer sees a guest run. */
    interface DemoVm {
        @WithDefault("false")
        boolean enabled();

        @WithDefault("demo")
        String id();
    }
}
