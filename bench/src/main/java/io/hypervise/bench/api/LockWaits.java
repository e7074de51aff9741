package io.hypervise.bench.api;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * How many sessions wait for an advisory lock while a measurement runs: for creations, the queue in
 * front of the audit chain's append lock. Sampled from pg_stat_activity every 10 ms on a connection of
 * its own (the server and the reference connect as the same role, so their sessions are visible).
 */
final class LockWaits {

    private static final String WAITING = """
            SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'""";

    private final Connection connection;
    private final Thread sampler;
    private final AtomicReference<SQLException> failure = new AtomicReference<>();
    private volatile boolean running = true;
    private long samples;
    private long waiting;

    private LockWaits(Connection connection) {
        this.connection = connection;
        this.sampler = Thread.ofPlatform().name("lock-waits").start(this::sample);
    }

    static LockWaits start(DirectDatabase db) throws SQLException {
        Connection c = db.connect();
        c.setAutoCommit(true); // each query a transaction of its own: pg_stat_activity is read once per transaction
        return new LockWaits(c);
    }

    /** Stops sampling; the mean number of waiting sessions. */
    double stop() throws SQLException, InterruptedException {
        running = false;
        sampler.join();
        connection.close();
        if (failure.get() != null) {
            throw failure.get();
        }
        return samples == 0 ? 0 : (double) waiting / samples;
    }

    private void sample() {
        try (PreparedStatement query = connection.prepareStatement(WAITING)) {
            while (running) {
                try (ResultSet rs = query.executeQuery()) {
                    rs.next();
                    waiting += rs.getLong(1);
                    samples++;
                }
                Thread.sleep(10);
            }
        } catch (SQLException e) {
            failure.set(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
