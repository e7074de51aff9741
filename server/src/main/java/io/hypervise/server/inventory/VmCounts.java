package io.hypervise.server.inventory;

import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Keeps vm_counts small: its triggers add a row of +1 or -1 for every VM created, deleted or changed in
 * owner or state (V23), and this folds them into one row per owner and state every few seconds, so a
 * list's total sums a handful of rows. Folding never changes a sum: it deletes the rows it sees and
 * inserts their sums in one transaction, and rows committed meanwhile stay for the next fold (two
 * servers folding at once each fold what they deleted).
 */
@ApplicationScoped
public class VmCounts {

    private static final Logger LOG = Logger.getLogger(VmCounts.class);
    private static final long EVERY_SECONDS = 5;
    private static final String FOLD = """
            WITH folded AS (DELETE FROM vm_counts RETURNING owner, state, n)
            INSERT INTO vm_counts (owner, state, n)
            SELECT owner, state, sum(n) FROM folded GROUP BY owner, state HAVING sum(n) <> 0""";

    @Inject
    AgroalDataSource dataSource;

    private ScheduledExecutorService timer;

    void onStart(@Observes StartupEvent event) {
        timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("vm-counts").factory());
        timer.scheduleWithFixedDelay(this::foldQuietly, EVERY_SECONDS, EVERY_SECONDS, TimeUnit.SECONDS);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    private void foldQuietly() {
        try {
            fold();
        } catch (SQLException | RuntimeException e) {
            LOG.warnf("could not fold the VM counts (totals stay exact, only slower to sum): %s", e.getMessage());
        }
    }

    /** Folds the counts now; how many rows there are after. */
    public int fold() throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            return s.executeUpdate(FOLD);
        }
    }
}
