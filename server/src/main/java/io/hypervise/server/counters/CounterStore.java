package io.hypervise.server.counters;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.config.ServerConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.StringReader;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.postgresql.PGConnection;

/**
 * Counters in PostgreSQL (tables of V6): writes samples in batches, rolls them up into one-minute and
 * one-hour series, creates the time partitions and drops expired ones, and reads series back. Every
 * method that depends on the time takes it as an argument, so tests choose the clock.
 */
@ApplicationScoped
public class CounterStore {

    /** A sample as stored: whose, when, over how long, and its series' values in the order of {@code names}. */
    public record Row(Target target, Instant at, double seconds, List<String> names, double[] values) {
    }

    /** What a maintenance pass did, for the log and for tests. */
    public record Maintenance(int minuteBuckets, int hourBuckets, List<String> created, List<String> dropped) {
    }

    private static final String NO_PARTITION = "23514"; // check_violation: "no partition of relation … found for row"

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ServerConfig config;

    private final Map<List<String>, Integer> layouts = new ConcurrentHashMap<>();

    // ---------------------------------------------------------------- writing

    /**
     * Writes the rows with one COPY in one transaction. A row whose hour has no partition yet makes the
     * partitions for the batch's hours and the COPY is tried once more.
     */
    public void write(List<Row> rows) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        String data = copyText(rows);
        try {
            copy(data);
        } catch (SQLException e) {
            if (!NO_PARTITION.equals(e.getSQLState())) {
                throw e;
            }
            Instant first = rows.stream().map(Row::at).min(Instant::compareTo).orElseThrow();
            Instant last = rows.stream().map(Row::at).max(Instant::compareTo).orElseThrow();
            createPartitions(Resolution.SAMPLES, first, last);
            copy(data);
        }
    }

    private void copy(String data) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.unwrap(PGConnection.class).getCopyAPI()
                    .copyIn("COPY counter_samples (target, at, layout, seconds, v) FROM STDIN", new StringReader(data));
        } catch (java.io.IOException e) {
            throw new SQLException("cannot send counter samples to PostgreSQL: " + e.getMessage(), e);
        }
    }

    /** COPY's text format: tab-separated, one row a line; targets are ids of [a-z0-9-], so need no escaping. */
    private String copyText(List<Row> rows) throws SQLException {
        StringBuilder out = new StringBuilder(rows.size() * 128);
        for (Row row : rows) {
            out.append(row.target().key()).append('\t').append(row.at()).append('\t').append(layout(row.names()))
                    .append('\t').append((float) row.seconds()).append('\t').append('{');
            double[] v = row.values();
            for (int i = 0; i < v.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                out.append(Double.isFinite(v[i]) ? Float.toString((float) v[i]) : "NaN");
            }
            out.append("}\n");
        }
        return out.toString();
    }

    /** The id of a layout (the names of a sample's series, in order), added the first time it is seen. */
    int layout(List<String> names) throws SQLException {
        Integer known = layouts.get(names);
        if (known != null) {
            return known;
        }
        try (Connection c = dataSource.getConnection();
                PreparedStatement s = c.prepareStatement("INSERT INTO counter_layouts (names) VALUES (?)"
                        + " ON CONFLICT (names) DO UPDATE SET names = EXCLUDED.names RETURNING id")) {
            s.setArray(1, c.createArrayOf("text", names.toArray()));
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                int id = rs.getInt(1);
                layouts.put(List.copyOf(names), id);
                return id;
            }
        }
    }

    // ---------------------------------------------------------------- partitions, rollups, expiry

    /** Partitions for the next hours' samples and for the rollups that will be computed from what is kept. */
    public List<String> createPartitions(Instant now) throws SQLException {
        ServerConfig.Counters.Retention keep = config.counters().retention();
        List<String> created = new ArrayList<>();
        created.addAll(createPartitions(Resolution.SAMPLES, now.minus(Duration.ofHours(1)), now.plus(Duration.ofHours(3))));
        created.addAll(createPartitions(Resolution.MINUTES, now.minus(keep.samples()).minus(Duration.ofDays(1)),
                now.plus(Duration.ofDays(2))));
        created.addAll(createPartitions(Resolution.HOURS, now.minus(Duration.ofDays(32)), now.plus(Duration.ofDays(62))));
        return created;
    }

    List<String> createPartitions(Resolution resolution, Instant from, Instant to) throws SQLException {
        return names("SELECT counter_partitions_create(?, ?, ?)", resolution.table, from, to);
    }

    /** Drops every partition whose rows are all older than its resolution's retention. */
    public List<String> expire(Instant now) throws SQLException {
        ServerConfig.Counters.Retention keep = config.counters().retention();
        List<String> dropped = new ArrayList<>();
        dropped.addAll(expire(Resolution.SAMPLES, now, keep.samples()));
        dropped.addAll(expire(Resolution.MINUTES, now, keep.minutes()));
        dropped.addAll(expire(Resolution.HOURS, now, keep.hours()));
        return dropped;
    }

    private List<String> expire(Resolution resolution, Instant now, Duration keep) throws SQLException {
        return names("SELECT counter_partitions_expire(?, ?, make_interval(secs => ?))", resolution.table, now,
                keep.toSeconds());
    }

    private List<String> names(String sql, String table, Instant at, Object third) throws SQLException {
        List<String> names = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setString(1, table);
            s.setTimestamp(2, Timestamp.from(at));
            if (third instanceof Instant i) {
                s.setTimestamp(3, Timestamp.from(i));
            } else {
                s.setObject(3, third);
            }
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    names.add(rs.getString(1));
                }
            }
        }
        return names;
    }

    /** Partitions, rollups, expiry: what the server does once a minute. */
    public Maintenance maintain(Instant now, Duration period) throws SQLException {
        List<String> created = createPartitions(now);
        int minutes = rollUpMinutes(now, period);
        int hours = rollUpHours(now);
        return new Maintenance(minutes, hours, created, expire(now));
    }

    /**
     * Rolls up every whole minute of samples not rolled up yet, up to the minute that ended a little
     * before {@code now} (samples arrive up to two periods late). Returns the rows written.
     */
    public int rollUpMinutes(Instant now, Duration period) throws SQLException {
        Instant until = now.minus(period.multipliedBy(2)).minusSeconds(5).truncatedTo(ChronoUnit.MINUTES);
        Instant oldest = now.minus(config.counters().retention().samples()).truncatedTo(ChronoUnit.MINUTES);
        return rollUp("minute", "counter_samples", oldest, until, "SELECT counter_roll_up_minutes(?, ?)");
    }

    /** Rolls up every whole hour of minutes, once all of that hour's minutes are rolled up. */
    public int rollUpHours(Instant now) throws SQLException {
        Instant minutesDone = doneUntil("minute");
        if (minutesDone == null) {
            return 0;
        }
        Instant until = minutesDone.truncatedTo(ChronoUnit.HOURS);
        Instant oldest = now.minus(config.counters().retention().minutes()).truncatedTo(ChronoUnit.HOURS);
        return rollUp("hour", "counter_minutes", oldest, until, "SELECT counter_roll_up_hours(?, ?)");
    }

    /**
     * Rolls {@code source} up into {@code resolution}'s table from where it got to last time (or from the
     * oldest row kept) until {@code until}, a chunk at a time (an hour of samples, a day of minutes), each
     * chunk in a transaction of its own that records how far it got: a server back after a long absence
     * catches up in steps, and what it has done stays done. An advisory lock makes servers sharing the
     * database take turns.
     */
    private int rollUp(String resolution, String source, Instant oldest, Instant until, String sql) throws SQLException {
        boolean minutes = resolution.equals("minute");
        Duration chunk = minutes ? Duration.ofHours(1) : Duration.ofDays(1);
        int rows = 0;
        while (true) {
            int done = rollUpChunk(resolution, source, oldest, until, chunk, sql, minutes);
            if (done < 0) {
                return rows;
            }
            rows += done;
        }
    }

    /** One chunk; -1 when there was nothing (more) to roll up. */
    private int rollUpChunk(String resolution, String source, Instant oldest, Instant until, Duration chunk, String sql,
            boolean minutes) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                try (Statement s = c.createStatement()) {
                    s.execute("SELECT pg_advisory_xact_lock(hashtext('counter_rollups'))");
                }
                Instant from = doneUntil(c, resolution);
                if (from == null) {
                    from = earliest(c, source, oldest, minutes ? ChronoUnit.MINUTES : ChronoUnit.HOURS);
                }
                if (from != null && from.isBefore(oldest)) {
                    from = oldest; // what is older has expired, or soon will
                }
                if (from == null || !from.isBefore(until)) {
                    c.rollback();
                    return -1;
                }
                Instant to = from.plus(chunk).isBefore(until) ? from.plus(chunk) : until;
                createPartitions(minutes ? Resolution.MINUTES : Resolution.HOURS, from, to);
                int rows;
                try (PreparedStatement s = c.prepareStatement(sql)) {
                    s.setTimestamp(1, Timestamp.from(from));
                    s.setTimestamp(2, Timestamp.from(to));
                    try (ResultSet rs = s.executeQuery()) {
                        rs.next();
                        rows = (int) rs.getLong(1);
                    }
                }
                try (PreparedStatement s = c.prepareStatement("INSERT INTO counter_rollups (resolution, done_until)"
                        + " VALUES (?, ?) ON CONFLICT (resolution) DO UPDATE SET done_until = EXCLUDED.done_until")) {
                    s.setString(1, resolution);
                    s.setTimestamp(2, Timestamp.from(to));
                    s.executeUpdate();
                }
                c.commit();
                return rows;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
    }

    private Instant doneUntil(String resolution) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return doneUntil(c, resolution);
        }
    }

    private static Instant doneUntil(Connection c, String resolution) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT done_until FROM counter_rollups WHERE resolution = ?")) {
            s.setString(1, resolution);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? rs.getTimestamp(1).toInstant() : null;
            }
        }
    }

    private static Instant earliest(Connection c, String table, Instant oldest, ChronoUnit unit) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT min(at) FROM " + table + " WHERE at >= ?")) {
            s.setTimestamp(1, Timestamp.from(oldest));
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                Timestamp t = rs.getTimestamp(1);
                return t == null ? null : t.toInstant().truncatedTo(unit);
            }
        }
    }

    // ---------------------------------------------------------------- reading

    /** One bucket of one series. */
    public record Point(Instant at, double min, double avg, double max, long samples) {
    }

    /**
     * Every series of the target between {@code from} (inclusive) and {@code to} (exclusive), in buckets
     * of {@code step} aligned to the epoch, from the given resolution.
     */
    public Map<String, List<Point>> read(Target target, Instant from, Instant to, Duration step, Resolution resolution)
            throws SQLException {
        String perSeries = resolution == Resolution.SAMPLES
                ? """
                  SELECT s.layout, to_timestamp(floor(extract(epoch FROM s.at) / ?) * ?) AS bucket, e.i, count(*) AS n,
                         min(e.x) AS mn, avg(e.x) AS av, max(e.x) AS mx
                  FROM counter_samples s, unnest(s.v) WITH ORDINALITY AS e(x, i)
                  WHERE s.target = ? AND s.at >= ? AND s.at < ?
                  GROUP BY 1, 2, 3"""
                : """
                  SELECT m.layout, to_timestamp(floor(extract(epoch FROM m.at) / ?) * ?) AS bucket, e.i, sum(m.samples) AS n,
                         min(e.mn) AS mn, sum(e.av * m.samples) / sum(m.samples) AS av, max(e.mx) AS mx
                  FROM %s m, unnest(m.mins, m.avgs, m.maxs) WITH ORDINALITY AS e(mn, av, mx, i)
                  WHERE m.target = ? AND m.at >= ? AND m.at < ?
                  GROUP BY 1, 2, 3""".formatted(resolution.table);
        String sql = "SELECT l.names[b.i], b.bucket, b.mn, b.av, b.mx, b.n FROM (" + perSeries + ") b"
                + " JOIN counter_layouts l ON l.id = b.layout ORDER BY b.bucket, b.i";
        SeriesBuilder series = new SeriesBuilder();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setLong(1, step.toSeconds());
            s.setLong(2, step.toSeconds());
            s.setString(3, target.key());
            s.setTimestamp(4, Timestamp.from(from));
            s.setTimestamp(5, Timestamp.from(to));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    series.add(rs.getString(1), new Point(rs.getTimestamp(2).toInstant(), rs.getDouble(3),
                            rs.getDouble(4), rs.getDouble(5), rs.getLong(6)));
                }
            }
        }
        return series.build();
    }
}
