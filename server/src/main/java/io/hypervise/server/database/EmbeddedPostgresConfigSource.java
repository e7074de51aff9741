package io.hypervise.server.database;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * Hands the embedded PostgreSQL's address and credentials to Quarkus: the datasource connects as the
 * application role, Flyway as the owner. PostgreSQL is started the first time one of these values is
 * read, which is when Quarkus assembles its runtime configuration, before any datasource exists.
 */
public final class EmbeddedPostgresConfigSource implements ConfigSource {

    /** Above application.properties (250), below environment variables (300) and system properties (400). */
    static final int ORDINAL = 275;

    static final String JDBC_URL = "quarkus.datasource.jdbc.url";
    static final String USERNAME = "quarkus.datasource.username";
    static final String PASSWORD = "quarkus.datasource.password";
    static final String FLYWAY_USERNAME = "quarkus.flyway.username";
    static final String FLYWAY_PASSWORD = "quarkus.flyway.password";
    private static final Set<String> NAMES = Set.of(JDBC_URL, USERNAME, PASSWORD, FLYWAY_USERNAME, FLYWAY_PASSWORD);

    private final EmbeddedPostgres.Settings settings;
    private EmbeddedPostgres postgres;
    private Map<String, String> values;
    private RuntimeException failure;

    EmbeddedPostgresConfigSource(EmbeddedPostgres.Settings settings) {
        this.settings = settings;
    }

    @Override
    public Set<String> getPropertyNames() {
        return NAMES;
    }

    @Override
    public String getValue(String name) {
        return NAMES.contains(name) ? started().get(name) : null;
    }

    @Override
    public String getName() {
        return "embedded PostgreSQL in " + settings.dir();
    }

    @Override
    public int getOrdinal() {
        return ORDINAL;
    }

    /** The running PostgreSQL, if one of its values has been read. */
    public synchronized Optional<EmbeddedPostgres> postgres() {
        return Optional.ofNullable(postgres);
    }

    /** Stops PostgreSQL if it was started. */
    public synchronized void stop() {
        if (postgres != null) {
            postgres.close();
        }
    }

    private synchronized Map<String, String> started() {
        if (failure != null) {
            throw failure; // one attempt per configuration: Quarkus reads several of these values
        }
        if (values == null) {
            try {
                postgres = EmbeddedPostgres.start(settings);
            } catch (IOException | RuntimeException e) {
                failure = new IllegalStateException("cannot start the embedded PostgreSQL in " + settings.dir() + ": " + e.getMessage(), e);
                throw failure;
            }
            values = Map.of(
                    JDBC_URL, postgres.jdbcUrl(),
                    USERNAME, EmbeddedPostgres.APP_ROLE,
                    PASSWORD, postgres.appPassword(),
                    FLYWAY_USERNAME, EmbeddedPostgres.OWNER,
                    FLYWAY_PASSWORD, postgres.ownerPassword());
        }
        return values;
    }
}
