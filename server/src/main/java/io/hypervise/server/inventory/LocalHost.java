package io.hypervise.server.inventory;

import io.hypervise.engine.Engine;
import io.hypervise.engine.host.HostCapabilities;
import io.hypervise.server.config.ServerConfig;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.Locale;

/** The host this server runs on, as the inventory records it. */
@ApplicationScoped
public class LocalHost {

    @Inject
    Engine engine;

    @Inject
    ServerConfig config;

    private volatile String id;

    /**
     * The host's inventory id: {@code hypervise.host-id}, or its hostname cut to the id rule (lower-case
     * letters, digits, dashes).
     */
    public String id() {
        if (id == null && config.hostId().isPresent()) {
            String configured = config.hostId().get();
            if (!configured.matches("[a-z0-9][a-z0-9-]{0,39}")) {
                throw new IllegalStateException("hypervise.host-id '" + configured
                        + "' must be 1 to 40 lower-case letters, digits and dashes, starting with a letter or digit");
            }
            id = configured;
        }
        if (id == null) {
            String cleaned = engine.host().hostname().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-")
                    .replaceAll("^-+", "");
            id = cleaned.isEmpty() ? "host" : cleaned.substring(0, Math.min(40, cleaned.length()));
        }
        return id;
    }

    /** The host group this host belongs to (policies allow host groups). */
    public String hostGroup() {
        return QuarkusTransaction.requiringNew().call(() -> {
            HostEntity host = HostEntity.findById(id());
            return host == null ? "default" : host.hostGroup;
        });
    }

    /** Records the host and what it can do now; called when the server starts. */
    public void register() {
        HostCapabilities caps = engine.host();
        QuarkusTransaction.requiringNew().run(() -> {
            Instant now = Instant.now();
            HostEntity host = HostEntity.findById(id());
            if (host == null) {
                host = new HostEntity();
                host.id = id();
                host.createdAt = now;
            }
            host.name = caps.hostname();
            host.hostname = caps.hostname();
            host.accelerator = caps.accelerator();
            host.cpus = caps.cpus();
            host.memoryBytes = caps.memoryBytes();
            host.qemuVersion = caps.qemuVersion();
            host.lastSeenAt = now;
            host.updatedAt = now;
            host.persist();
        });
    }
}
