package io.hypervise.server.database;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Destroyed;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * Stops the embedded PostgreSQL when the server stops: once the application-scoped beans are gone,
 * so that whatever they write while shutting down is written first. (Should the server die instead,
 * PostgreSQL's parent-death signal stops it.)
 */
@ApplicationScoped
public class EmbeddedPostgresShutdown {

    static void onStop(@Observes @Destroyed(ApplicationScoped.class) Object event, Config config) {
        for (ConfigSource source : config.getConfigSources()) {
            if (source instanceof EmbeddedPostgresConfigSource embedded) {
                embedded.stop();
            }
        }
    }
}
