package io.hypervise.server.placement;

import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.Engine;
import io.hypervise.engine.host.HostLoad;
import io.hypervise.server.config.ServerConfig;
import io.hypervise.server.counters.RecentSamples;
import io.hypervise.server.inventory.LocalHost;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.OptionalDouble;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Publishes what placement needs of this host that only its server knows (the memory VMs may use, its storage
 * root's size and free space, its recent CPU load) to its row in {@code hosts}, every
 * {@code hypervise.placement.publish}, on a thread of its own: a database that refuses is tried again at the next
 * tick, said once in the log per outage, and never holds up a request.
 */
@ApplicationScoped
public class HostFactsPublisher {

    private static final Logger LOG = Logger.getLogger(HostFactsPublisher.class);

    private static final String PUBLISH = """
            UPDATE hosts SET vm_memory_bytes = ?, storage_bytes = ?, storage_free_bytes = ?, cpu_load_cores = ?,
                             facts_published_at = clock_timestamp()
             WHERE id = ?""";

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Engine engine;

    @Inject
    LocalHost localHost;

    @Inject
    RecentSamples recent;

    @Inject
    ServerConfig config;

    private ScheduledExecutorService timer;

    /** Failed publications in a row; the first of an outage is logged as a warning, the rest at debug. */
    private long failures;

    /** What was published, as this server computed it. */
    public record Facts(long vmMemoryBytes, long storageBytes, long storageFreeBytes, OptionalDouble cpuLoadCores) {
    }

    void onStart(@Observes @Priority(30) StartupEvent event) {
        publishQuietly();
        long every = config.placement().publish().toMillis();
        timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("host-facts").factory());
        timer.scheduleWithFixedDelay(this::publishQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /** This host's facts now. */
    public Facts facts() {
        HostLoad load = engine.load();
        long memory = Math.max(0, engine.host().memoryBytes() - config.placement().hostReserveMib() * 1024 * 1024);
        OptionalDouble cpu = recent.hostCpuCores(Instant.now().minus(config.placement().loadWindow()));
        return new Facts(memory, Math.max(0, load.storageTotalBytes()), Math.max(0, load.storageFreeBytes()), cpu);
    }

    /**
     * Publishes this host's facts now, as the timer does.
     *
     * @throws SQLException when the database refuses them (or does not answer within the publication period)
     */
    public synchronized Facts publish() throws SQLException {
        Facts facts = facts();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(PUBLISH)) {
            s.setQueryTimeout((int) Math.max(1, config.placement().publish().toSeconds()));
            s.setLong(1, facts.vmMemoryBytes());
            s.setLong(2, facts.storageBytes());
            s.setLong(3, facts.storageFreeBytes());
            if (facts.cpuLoadCores().isPresent()) {
                s.setDouble(4, facts.cpuLoadCores().getAsDouble());
            } else {
                s.setNull(4, Types.DOUBLE);
            }
            s.setString(5, localHost.id());
            s.executeUpdate();
        }
        if (failures > 0) {
            LOG.infof("host '%s' published its placement facts again after %d failed attempts", localHost.id(), failures);
            failures = 0;
        }
        return facts;
    }

    private synchronized void publishQuietly() {
        try {
            publish();
        } catch (SQLException | RuntimeException e) {
            failures++;
            if (failures == 1) {
                LOG.warnf("host '%s' cannot publish its placement facts (tried again every %s; said once until it"
                        + " works again): %s", localHost.id(), config.placement().publish(), e.getMessage());
            } else {
                LOG.debugf("publishing placement facts failed again (%d in a row): %s", failures, e.getMessage());
            }
        }
    }
}
