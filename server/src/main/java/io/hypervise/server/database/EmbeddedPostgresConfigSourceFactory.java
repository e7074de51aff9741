package io.hypervise.server.database;

import io.quarkus.runtime.ExecutionMode;
import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * Decides, when the server's configuration is assembled, whether the server brings its own
 * PostgreSQL: it does unless {@code quarkus.datasource.jdbc.url} names an external one. Registered in
 * META-INF/services. Quarkus assembles the runtime configuration before it creates the datasource and
 * runs Flyway, so PostgreSQL is up, and its URL known, by then.
 */
public final class EmbeddedPostgresConfigSourceFactory implements ConfigSourceFactory {

    @Override
    public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
        // The build evaluates the configuration too, and would record this PostgreSQL's port and
        // passwords into the application as defaults: only a starting or running server brings one.
        ExecutionMode mode = ExecutionMode.current();
        if (mode != ExecutionMode.RUNTIME_INIT && mode != ExecutionMode.RUNNING) {
            return List.of();
        }
        if (isSet(context, "quarkus.datasource.jdbc.url")) {
            return List.of();
        }
        Path dataDir = Path.of(valueOr(context, "hypervise.data-dir", "data"));
        Path dir = Path.of(valueOr(context, "hypervise.database.embedded.dir", dataDir.resolve("postgres").toString()));
        String osUser = valueOr(context, "hypervise.database.embedded.os-user", EmbeddedPostgres.DEFAULT_OS_USER);
        String port = valueOr(context, "hypervise.database.embedded.port", EmbeddedPostgres.DEFAULT_PORT);
        int portNumber;
        try {
            portNumber = Integer.parseInt(port.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("hypervise.database.embedded.port: must be a whole number; got '" + port + "'", e);
        }
        String listenAddress = valueOr(context, "hypervise.database.embedded.listen-address", EmbeddedPostgres.DEFAULT_LISTEN_ADDRESS);
        return List.of(new EmbeddedPostgresConfigSource(new EmbeddedPostgres.Settings(dir, osUser, portNumber, listenAddress)));
    }

    @Override
    public OptionalInt getPriority() {
        return OptionalInt.of(EmbeddedPostgresConfigSource.ORDINAL);
    }

    private static boolean isSet(ConfigSourceContext context, String name) {
        ConfigValue value = context.getValue(name);
        return value != null && value.getValue() != null && !value.getValue().isBlank();
    }

    private static String valueOr(ConfigSourceContext context, String name, String fallback) {
        return isSet(context, name) ? context.getValue(name).getValue() : fallback;
    }
}
