package io.hypervise.server.counters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.counters.CounterStore.Point;
import io.hypervise.server.counters.CounterStore.Row;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Rollups and retention in the real PostgreSQL, driven by a clock the test chooses: a VM's samples in
 * March 2031, rolled up as the minutes and hours pass, then expired as days and months pass. The times
 * are in the future so that nothing else the suite stores is in their partitions.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
class CounterStoreTest {

    private static final Instant T0 = Instant.parse("2031-03-10T22:00:00Z");
    private static final Duration PERIOD = Duration.ofSeconds(5);
    private static final List<String> NAMES = List.of("cpu", "memory.resident");

    @Inject
    CounterStore store;

    @Inject
    AgroalDataSource dataSource;

    /** Each test's own VM: the application may not delete samples, so tests cannot clean up after each other. */
    private Target vm;

    @BeforeEach
    void rollupsStartAfresh(TestInfo test) throws SQLException {
        vm = Target.vm("probe-" + Integer.toHexString(test.getDisplayName().hashCode()) + "-" + System.nanoTime() % 100000);
        execute("DELETE FROM counter_rollups");
    }

    @AfterEach
    void rollupsGoOnFromNowAfterwards() throws SQLException {
        execute("DELETE FROM counter_rollups");
    }

    /** Three minutes of samples every 5 s: cpu counts up 0..35, memory is 100 MiB plus the same. */
    private void sampleThreeMinutes() throws SQLException {
        store.createPartitions(T0);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 36; i++) {
            rows.add(new Row(vm, T0.plus(PERIOD.multipliedBy(i)), 5, NAMES, new double[] {i, (100 << 20) + i}));
        }
        store.write(rows);
    }

    @Test
    void minutesHoldTheMinimumMeanAndMaximumOfTheirSamples() throws SQLException {
        sampleThreeMinutes();
        // 22:03:20 less two periods and 5 s of grace: the minutes 22:00, 22:01 and 22:02 are whole.
        // (Rows of other tests' VMs at the same times may be rolled up with them: counts are at least.)
        assertThat(store.rollUpMinutes(T0.plusSeconds(200), PERIOD)).isGreaterThanOrEqualTo(3);
        assertThat(store.rollUpMinutes(T0.plusSeconds(200), PERIOD)).as("a second pass adds nothing").isZero();

        Map<String, List<Point>> minutes = store.read(vm, T0, T0.plusSeconds(180), Duration.ofMinutes(1), Resolution.MINUTES);
        assertThat(minutes.get("cpu")).containsExactly(
                new Point(T0, 0, 5.5, 11, 12),
                new Point(T0.plusSeconds(60), 12, 17.5, 23, 12),
                new Point(T0.plusSeconds(120), 24, 29.5, 35, 12));
        assertThat(minutes.get("memory.resident").getFirst().max()).isCloseTo((100 << 20) + 11, Offset.offset(8.0));
    }

    @Test
    void hoursAreRolledUpFromMinutesWithMeansWeightedBySamples() throws SQLException {
        sampleThreeMinutes();
        store.rollUpMinutes(T0.plusSeconds(200), PERIOD);
        assertThat(store.rollUpHours(T0.plusSeconds(200))).as("the hour is not over").isZero();
        // An hour later the minute rollup has moved past 23:00: the hour 22:00 is whole.
        store.rollUpMinutes(T0.plus(Duration.ofMinutes(61)), PERIOD);
        assertThat(store.rollUpHours(T0.plus(Duration.ofMinutes(61)))).isGreaterThanOrEqualTo(1);

        Map<String, List<Point>> hours = store.read(vm, T0, T0.plus(Duration.ofHours(1)), Duration.ofHours(1), Resolution.HOURS);
        assertThat(hours.get("cpu")).containsExactly(new Point(T0, 0, 17.5, 35, 36));
    }

    @Test
    void aServerBackAfterHoursCatchesUpAnHourAtATime() throws SQLException {
        store.createPartitions(T0.plus(Duration.ofHours(2)));
        store.createPartitions(T0);
        store.write(List.of(new Row(vm, T0.plusSeconds(10), 5, NAMES, new double[] {1, 2}),
                new Row(vm, T0.plus(Duration.ofMinutes(70)), 5, NAMES, new double[] {3, 4}),
                new Row(vm, T0.plus(Duration.ofMinutes(130)), 5, NAMES, new double[] {5, 6})));
        assertThat(store.rollUpMinutes(T0.plus(Duration.ofHours(3)), PERIOD)).isGreaterThanOrEqualTo(3);
        assertThat(store.read(vm, T0, T0.plus(Duration.ofHours(3)), Duration.ofMinutes(1), Resolution.MINUTES).get("cpu"))
                .extracting(Point::at).containsExactly(T0, T0.plus(Duration.ofMinutes(70)), T0.plus(Duration.ofMinutes(130)));
        // The minutes are done until 00:59: the hours 22:00 and 23:00 are whole, 00:00 is not.
        assertThat(store.rollUpHours(T0.plus(Duration.ofHours(3)))).isGreaterThanOrEqualTo(2);
        assertThat(store.read(vm, T0, T0.plus(Duration.ofHours(3)), Duration.ofHours(1), Resolution.HOURS).get("cpu"))
                .containsExactly(new Point(T0, 1, 1, 1, 1), new Point(T0.plus(Duration.ofHours(1)), 3, 3, 3, 1));
    }

    @Test
    void rawSamplesAreReadInBucketsOfTheStepAskedFor() throws SQLException {
        sampleThreeMinutes();
        Map<String, List<Point>> raw = store.read(vm, T0, T0.plusSeconds(30), Duration.ofSeconds(10), Resolution.SAMPLES);
        assertThat(raw.get("cpu")).containsExactly(
                new Point(T0, 0, 0.5, 1, 2),
                new Point(T0.plusSeconds(10), 2, 2.5, 3, 2),
                new Point(T0.plusSeconds(20), 4, 4.5, 5, 2));
    }

    @Test
    void expiryDropsWholePartitionsOnceTheirNewestRowIsOlderThanTheRetention() throws SQLException {
        sampleThreeMinutes();
        store.rollUpMinutes(T0.plus(Duration.ofMinutes(61)), PERIOD);
        store.rollUpHours(T0.plus(Duration.ofMinutes(61)));

        assertThat(store.expire(T0.plus(Duration.ofHours(24)))).as("23 h after the hour ended")
                .doesNotContain("counter_samples_h2031031022");
        assertThat(store.expire(T0.plus(Duration.ofHours(25)))).as("24 h after the hour ended")
                .contains("counter_samples_h2031031022")
                .doesNotContain("counter_minutes_d20310310", "counter_hours_m203103");
        assertThat(count("counter_samples")).isZero();
        assertThat(count("counter_minutes")).isEqualTo(3);

        // Minutes are kept 7 days after their day ends (2031-03-11), hours 400 days after their month.
        assertThat(store.expire(Instant.parse("2031-03-17T23:59:00Z"))).doesNotContain("counter_minutes_d20310310");
        assertThat(store.expire(Instant.parse("2031-03-18T00:00:00Z"))).contains("counter_minutes_d20310310");
        assertThat(count("counter_minutes")).isZero();
        assertThat(count("counter_hours")).isEqualTo(1);
        assertThat(store.expire(Instant.parse("2032-05-04T23:59:00Z"))).doesNotContain("counter_hours_m203103");
        assertThat(store.expire(Instant.parse("2032-05-05T00:00:00Z"))).contains("counter_hours_m203103");
        assertThat(count("counter_hours")).isZero();
    }

    @Test
    void theApplicationCanNeitherDeleteSamplesNorDropPartitionsItself() throws SQLException {
        store.createPartitions(T0);
        for (String sql : List.of("DELETE FROM counter_samples", "DROP TABLE counter_samples_h2031031022",
                "TRUNCATE counter_minutes", "CREATE TABLE counter_samples_x PARTITION OF counter_samples"
                        + " FOR VALUES FROM ('2040-01-01') TO ('2040-01-02')")) {
            assertThatThrownBy(() -> execute(sql)).as(sql).isInstanceOf(SQLException.class);
        }
        assertThatThrownBy(() -> execute("SELECT counter_partitions_create('audit_log', now(), now())"))
                .hasMessageContaining("not a counter table");
        assertThatThrownBy(() -> execute("SELECT counter_partitions_expire('counter_samples', now(), interval '1 minute')"))
                .hasMessageContaining("less than an hour");
    }

    private long count(String table) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table + " WHERE target = '" + vm.key() + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void execute(String sql) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
