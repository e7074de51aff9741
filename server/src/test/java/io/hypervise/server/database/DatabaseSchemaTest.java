package io.hypervise.server.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/** The schema as the migrations leave it, seen through the two roles: the owner (Flyway's) and the application's. */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
class DatabaseSchemaTest {

    @Inject
    AgroalDataSource application;

    @Inject
    Flyway flyway;

    @Test
    void flywayAppliedEveryMigrationFromDbMigrationsAtStart() throws SQLException {
        List<String> applied = new ArrayList<>();
        try (Connection c = owner().getConnection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT version, script, success FROM flyway_schema_history"
                        + " WHERE version IS NOT NULL ORDER BY installed_rank")) {
            while (rs.next()) {
                assertThat(rs.getBoolean("success")).as(rs.getString("script")).isTrue();
                applied.add(rs.getString("version") + " " + rs.getString("script"));
            }
        }
        assertThat(applied).startsWith("1 db/migration/V1__inventory_and_audit.sql", "2 db/migration/V2__application_role.sql",
                "3 db/migration/V3__audit_log_appends_in_chain_order.sql", "4 db/migration/V4__self_service_policies.sql",
                "5 db/migration/V5__vm_list_order_index.sql", "6 db/migration/V6__utilization_counters.sql");
        assertThat(flyway.info().pending()).isEmpty();
    }

    @Test
    void theApplicationConnectsAsItsOwnRoleNotAsTheOwner() throws SQLException {
        assertThat(queryOne(application, "SELECT current_user")).isEqualTo(EmbeddedPostgres.APP_ROLE);
        assertThat(queryOne(owner(), "SELECT current_user")).isEqualTo(EmbeddedPostgres.OWNER);
        assertThat(queryOne(application, "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"))
                .isEqualTo(EmbeddedPostgres.OWNER);
    }

    @Test
    void theApplicationAppendsToTheAuditLogAndReadsItButCannotChangeOrRemoveEntries() throws SQLException {
        try (Connection c = application.getConnection(); Statement s = c.createStatement()) {
            long id;
            try (ResultSet rs = s.executeQuery("""
                    INSERT INTO audit_log (actor, roles, source_address, action, target, parameters, outcome, reason,
                                           prev_hash, hash)
                    VALUES ('alice', '{hv-self-service}', '127.0.0.1', 'vm.start', 'vm:web-1', '{"force": false}',
                            'DENIED', 'denied because web-1 belongs to bob', %s,
                            encode(sha256(gen_random_uuid()::text::bytea), 'hex'))
                    RETURNING id""".formatted(LAST_HASH))) {
                rs.next();
                id = rs.getLong(1);
            }
            assertThat(queryOne(application, "SELECT actor || ' ' || action || ' ' || outcome || ' ' || roles[1]"
                    + " || ' ' || (parameters->>'force') FROM audit_log WHERE id = " + id))
                    .isEqualTo("alice vm.start DENIED hv-self-service false");

            for (String tamper : List.of(
                    "UPDATE audit_log SET outcome = 'SUCCEEDED', reason = NULL WHERE id = " + id,
                    "DELETE FROM audit_log WHERE id = " + id,
                    "TRUNCATE audit_log")) {
                assertThatThrownBy(() -> s.execute(tamper)).as(tamper)
                        .isInstanceOf(SQLException.class)
                        .hasMessageContaining("permission denied for table audit_log")
                        .extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("42501");
            }
            // Nor can it get rid of the table, or of what protects it.
            assertThatThrownBy(() -> s.execute("DROP TABLE audit_log"))
                    .hasMessageContaining("must be owner of table audit_log");
            assertThatThrownBy(() -> s.execute("ALTER TABLE audit_log ALTER COLUMN id DROP IDENTITY"))
                    .hasMessageContaining("must be owner of table audit_log");
            assertThat(queryOne(application, "SELECT count(*) FROM audit_log WHERE id = " + id)).isEqualTo("1");
        }
    }

    @Test
    void theDatabaseNumbersAuditEntriesNotTheWriter() throws SQLException {
        try (Connection c = application.getConnection(); Statement s = c.createStatement()) {
            assertThatThrownBy(() -> s.execute("""
                    INSERT INTO audit_log (id, actor, action, outcome, prev_hash, hash)
                    VALUES (1000000, 'mallory', 'vm.delete', 'SUCCEEDED', repeat('a', 64), repeat('b', 64))"""))
                    .hasMessageContaining("cannot insert a non-DEFAULT value into column \"id\"");
        }
    }

    @Test
    void noWriterCanSlipAnEntryBeforeOthersOrForkTheChain() throws SQLException {
        try (Connection c = application.getConnection(); Statement s = c.createStatement()) {
            // An entry that continues the chain, so there is a last entry to hide behind.
            s.execute("""
                    INSERT INTO audit_log (actor, action, outcome, prev_hash, hash)
                    VALUES ('alice', 'vm.create', 'SUCCEEDED', %s, encode(sha256(gen_random_uuid()::text::bytea), 'hex'))
                    """.formatted(LAST_HASH));
            assertThatThrownBy(() -> s.execute("""
                    INSERT INTO audit_log (id, actor, action, outcome, prev_hash, hash) OVERRIDING SYSTEM VALUE
                    VALUES (1, 'mallory', 'vm.delete', 'SUCCEEDED', %s, repeat('b', 64))
                    """.formatted(LAST_HASH)))
                    .as("an entry numbered before the last one")
                    .hasMessageContaining("audit_log entries are only appended");
            assertThatThrownBy(() -> s.execute("""
                    INSERT INTO audit_log (actor, action, outcome, prev_hash, hash)
                    VALUES ('mallory', 'vm.delete', 'SUCCEEDED', repeat('a', 64), repeat('b', 64))"""))
                    .as("an entry that does not follow the last one")
                    .hasMessageContaining("prev_hash must be the hash of the last entry");
        }
    }

    @Test
    void checkConstraintsRefuseWhatTheEngineWouldRefuse() throws SQLException {
        try (Connection c = application.getConnection(); Statement s = c.createStatement()) {
            s.execute("""
                    INSERT INTO hosts (id, name, hostname, accelerator, cpus, memory_bytes, qemu_version)
                    VALUES ('host-checks', 'Host', 'localhost', 'TCG', 2, 8589934592, '7.2.22')""");
            String vm = """
                    INSERT INTO vms (id, host_id, name, owner, vcpus, memory_mib, profile, display, boot_kind)
                    VALUES ('%s', 'host-checks', 'A VM', 'alice', %d, 512, 'ENLIGHTENED', 'NONE', '%s')""";

            assertThatThrownBy(() -> s.execute(vm.formatted("no-cpus", 0, "DISK")))
                    .hasMessageContaining("violates check constraint \"vms_vcpus_check\"")
                    .extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("23514");
            assertThatThrownBy(() -> s.execute(vm.formatted("Not_An_Id", 1, "DISK")))
                    .hasMessageContaining("vms_id_check");
            assertThatThrownBy(() -> s.execute(vm.formatted("kernel-missing", 1, "KERNEL")))
                    .hasMessageContaining("vms_kernel_boot_names_a_kernel");
            assertThatThrownBy(() -> s.execute(vm.formatted("unknown-host", 1, "DISK").replace("'host-checks'", "'nowhere'")))
                    .hasMessageContaining("vms_host_id_fkey");

            s.execute(vm.formatted("fine", 1, "DISK"));
            assertThatThrownBy(() -> s.execute("UPDATE vms SET state = 'Running' WHERE id = 'fine'"))
                    .hasMessageContaining("vms_state_check");
            assertThatThrownBy(() -> s.execute("INSERT INTO disks (vm_id, position, path, format) VALUES ('fine', 0, '/x.img', 'qcow2')"))
                    .hasMessageContaining("disks_format_check");
            assertThatThrownBy(() -> s.execute("INSERT INTO nics (vm_id, position, mac) VALUES ('fine', 0, '01:00:5e:00:00:01')"))
                    .as("a multicast MAC").hasMessageContaining("nics_mac_check");
            assertThatThrownBy(() -> s.execute("""
                    INSERT INTO audit_log (actor, action, outcome, prev_hash, hash)
                    VALUES ('bob', 'vm.delete', 'DENIED', %s, repeat('d', 64))
                    """.formatted(LAST_HASH)))
                    .as("a denial without its reason")
                    .hasMessageContaining("audit_log_failure_or_denial_has_a_reason");
        }
    }

    /** SQL for the hash a new entry must name as its predecessor. */
    private static final String LAST_HASH =
            "coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64))";

    private DataSource owner() {
        return flyway.getConfiguration().getDataSource();
    }

    private static String queryOne(DataSource ds, String sql) throws SQLException {
        try (Connection c = ds.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
