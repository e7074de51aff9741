package io.hypervise.bench.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.security.SecureRandom;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * The reference side: the same work as the API's, straight against the server's PostgreSQL over JDBC,
 * as the role the server connects as. The SQL is what the server issues (Hibernate's statements as it
 * logs them with quarkus.hibernate-orm.log.sql, and the audit log's own); if the server's queries
 * change, change these with them.
 *
 * <p>Creations go to copies of the inventory and audit tables in a schema of their own (same columns,
 * constraints, indexes, foreign keys and, for the chained copy, triggers), so the server's tables hold
 * only the API's VMs and its audit chain stays intact.
 */
final class DirectDatabase {

    static final String CHAINED = "bench_chained";
    static final String UNCHAINED = "bench_unchained";

    /** The columns the server reads for a page (io.hypervise.server.inventory.VmPages), disks and adapters included. */
    private static final String COLUMNS = """
            v.id, v.name, v.owner, v.host_id, v.template_id, v.state, v.state_reason, v.state_since, v.vcpus,
            v.memory_mib, v.max_vcpus, v.max_memory_mib, v.profile, v.display, v.firmware, v.cdrom_drive,
            v.cdrom_image, v.boot_library_item_id, v.lease_expires_at, v.lease_warned_at, v.lease_stopped_at,
            v.pending, v.cpu_weight, v.cpu_cap_percent, v.memory_reservation_mib, v.balloon_target_mib,
            v.disk_bytes_per_second, v.disk_iops, v.network_receive_bits_per_second,
            v.network_transmit_bits_per_second,
            (SELECT json_agg(json_build_array(d.position, d.path, d.format, d.read_only, d.size_bytes,
                    d.library_item_id, d.backing_path, d.host_device) ORDER BY d.position)
               FROM disks d WHERE d.vm_id = v.id),
            (SELECT json_agg(json_build_array(n.position, n.mac, n.switch_id, n.vlan) ORDER BY n.position)
               FROM nics n WHERE n.vm_id = v.id)""";
    private static final String INSERT_VM = """
            insert into %s.vms (boot_command_line, boot_image, boot_initramfs, boot_kernel, boot_kind, created_at, display,
                host_id, memory_mib, name, owner, profile, state, state_reason, state_since, template_id, updated_at, vcpus,
                version, pending, id)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";
    private static final String SETTLE_VM = "update %s.vms set pending = null where id = ?";
    private static final String INSERT_NIC = "insert into %s.nics (mac, position, vm_id) values (?, ?, ?)";
    // As io.hypervise.server.audit.AuditLog appends: what PostgreSQL will store, then the lock and the append
    // in one round trip, the database supplying the time and the previous hash and finishing the hash.
    private static final String NORMALIZE = "SELECT host(CAST(? AS inet)), CAST(CAST(? AS jsonb) AS text)";
    private static final String APPEND = """
            WITH n AS MATERIALIZED (
                SELECT t.at, extract(microseconds FROM t.at)::bigint %% 1000000 AS us, %s AS prev
                FROM (SELECT clock_timestamp() AS at) t)
            INSERT INTO %s.audit_log (at, actor, roles, source_address, action, target, parameters, outcome, reason,
                                   prev_hash, hash)
            SELECT at, ?, ?, CAST(? AS inet), ?, ?, CAST(? AS jsonb), ?, ?, prev,
                   encode(sha256(convert_to(prev || chr(31) || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                       || CASE WHEN us = 0 THEN '' WHEN us %% 1000 = 0 THEN '.' || lpad((us / 1000)::text, 3, '0')
                               ELSE '.' || lpad(us::text, 6, '0') END
                       || 'Z' || CAST(? AS text), 'UTF8')), 'hex')
            FROM n
            RETURNING id""";
    private static final String LOCK_AND_APPEND = "SELECT pg_advisory_xact_lock(?);\n" + APPEND;
    /** Not the server's key: its appends and these never wait for each other. */
    private static final long REFERENCE_LOCK = 0x62656e6368726566L;
    /** The previous hash of the first entry. */
    private static final String GENESIS = "0".repeat(64);
    private static final SecureRandom RANDOM = new SecureRandom();

    private static final ObjectMapper JSON = new ObjectMapper();

    private final BenchServer.Database db;

    DirectDatabase(BenchServer.Database db) {
        this.db = db;
    }

    /** A connection as the application's role, in manual-commit mode (the server runs each request in a transaction). */
    Connection connect() throws SQLException {
        Connection c = DriverManager.getConnection(db.jdbcUrl(), db.appUser(), db.appPassword());
        c.setAutoCommit(false);
        return c;
    }

    List<Connection> connect(int count) throws SQLException {
        List<Connection> connections = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            connections.add(connect());
        }
        return connections;
    }

    static void close(Collection<Connection> connections) throws SQLException {
        for (Connection c : connections) {
            c.close();
        }
    }

    /**
     * How many connections the reference may hold while the server holds its whole pool: PostgreSQL's
     * slots for ordinary roles, less the server's pool and a few for the benchmark's own checks.
     */
    int spareConnections(int serverPool) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
                        + " - current_setting('reserved_connections')::int")) {
            rs.next();
            return rs.getInt(1) - serverPool - 3;
        }
    }

    /** Connections shared by more clients: a client waits for one, as the server's requests wait for its pool's. */
    static final class Pool implements AutoCloseable {

        interface Work {
            void run(Connection c) throws SQLException;
        }

        private final BlockingQueue<Connection> idle;

        Pool(List<Connection> connections) {
            idle = new ArrayBlockingQueue<>(connections.size(), true, connections); // fair: first come, first served
        }

        void with(Work work) throws SQLException, InterruptedException {
            Connection c = idle.take();
            try {
                work.run(c);
            } finally {
                idle.put(c);
            }
        }

        @Override
        public void close() throws SQLException {
            DirectDatabase.close(idle);
        }
    }

    String version() throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW server_version")) {
            rs.next();
            return rs.getString(1);
        }
    }

    String hostId() throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id FROM hosts")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /**
     * The reference's copies of vms, nics and audit_log in {@code schema}, made by the schema's owner;
     * with the triggers of the originals (the VM counts'; and {@code chained}, the audit log's check that an
     * entry continues the chain), their functions copied to read and write the schema's tables.
     */
    void createReferenceTables(String schema, boolean chained) throws SQLException {
        try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.ownerUser(), db.ownerPassword());
                Statement s = c.createStatement()) {
            for (String sql : List.of(
                    "CREATE SCHEMA %s",
                    "CREATE TABLE %s.vms (LIKE public.vms INCLUDING ALL)",
                    "ALTER TABLE %s.vms ADD FOREIGN KEY (host_id) REFERENCES public.hosts (id)",
                    "ALTER TABLE %s.vms ADD FOREIGN KEY (template_id) REFERENCES public.templates (id) ON DELETE SET NULL",
                    "CREATE TABLE %s.nics (LIKE public.nics INCLUDING ALL)",
                    "ALTER TABLE %s.nics ADD FOREIGN KEY (vm_id) REFERENCES %1$s.vms (id) ON DELETE CASCADE",
                    "CREATE TABLE %s.audit_log (LIKE public.audit_log INCLUDING ALL)",
                    "CREATE TABLE %s.vm_counts (LIKE public.vm_counts INCLUDING ALL)")) {
                s.execute(sql.formatted(schema));
            }
            copyTriggers(s, schema, chained);
            s.execute("GRANT USAGE ON SCHEMA %s TO %s".formatted(schema, db.appUser()));
            s.execute("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA %s TO %s".formatted(schema, db.appUser()));
        }
    }

    private static void copyTriggers(Statement s, String schema, boolean chained) throws SQLException {
        List<String> copies = new ArrayList<>();
        Set<String> functions = new HashSet<>();
        try (ResultSet rs = s.executeQuery("""
                SELECT c.relname, p.proname, p.prosrc, l.lanname, pg_get_triggerdef(t.oid)
                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
                     JOIN pg_language l ON l.oid = p.prolang
                WHERE c.relnamespace = 'public'::regnamespace AND c.relname IN ('vms', 'nics', 'audit_log')
                  AND NOT t.tgisinternal""")) {
            while (rs.next()) {
                String table = rs.getString(1);
                if (table.equals("audit_log") && !chained) {
                    continue;
                }
                String function = rs.getString(2);
                if (functions.add(function)) { // one function may serve several triggers
                    copies.add("CREATE FUNCTION %s.%s() RETURNS trigger LANGUAGE %s SET search_path = %1$s, public AS $copy$%s$copy$"
                            .formatted(schema, function, rs.getString(4), rs.getString(3)));
                }
                copies.add(rs.getString(5)
                        .replace(" ON public." + table + " ", " ON " + schema + "." + table + " ")
                        .replaceFirst("EXECUTE FUNCTION (public\\.)?" + function + "\\(", "EXECUTE FUNCTION " + schema + "." + function + "("));
            }
        }
        for (String sql : copies) {
            s.execute(sql);
        }
    }

    /**
     * One page of the VM list as the server queries it (VmPages): one statement with the total from
     * vm_counts, the page's ids from the index, their columns, disks and adapters; after {@code after}
     * (a name and id) where given, else from the start; every column of every row read into objects.
     */
    ListPage list(Connection c, Optional<String> owner, Optional<List<String>> after, int size) throws SQLException {
        String where = "TRUE" + (owner.isPresent() ? " AND v.owner = ?" : "");
        String total = "SELECT coalesce(sum(c.n), 0) AS n FROM vm_counts c WHERE TRUE"
                + (owner.isPresent() ? " AND c.owner = ?" : "");
        String page = "SELECT v.id FROM vms v WHERE " + where + (after.isPresent() ? " AND (v.name, v.id) > (?, ?)" : "")
                + " ORDER BY v.name, v.id LIMIT ?";
        String sql = "WITH total AS (" + total + "), page AS (" + page + ") SELECT (SELECT n FROM total), " + COLUMNS
                + " FROM (SELECT 1) one LEFT JOIN (page JOIN vms v USING (id)) ON TRUE ORDER BY v.name, v.id";
        List<VmRow> rows = new ArrayList<>(size);
        long matching = 0;
        try (PreparedStatement select = c.prepareStatement(sql)) {
            int i = 1;
            if (owner.isPresent()) {
                select.setString(i++, owner.get());
                select.setString(i++, owner.get());
            }
            if (after.isPresent()) {
                select.setString(i++, after.get().get(0));
                select.setString(i++, after.get().get(1));
            }
            select.setInt(i, size + 1);
            try (ResultSet rs = select.executeQuery()) {
                int columns = rs.getMetaData().getColumnCount();
                while (rs.next()) {
                    matching = rs.getLong(1);
                    if (rs.getString(2) == null) {
                        continue;
                    }
                    Object[] values = new Object[columns - 1];
                    for (int col = 2; col <= columns; col++) {
                        values[col - 2] = col > columns - 2 ? json(rs.getString(col)) : rs.getObject(col);
                    }
                    rows.add(new VmRow((String) values[0], (String) values[1], values));
                }
            }
        }
        c.commit();
        return new ListPage(rows.size() > size ? rows.subList(0, size) : rows, matching);
    }

    record ListPage(List<VmRow> rows, long total) {
    }

    /** The disks or adapters of a VM, read into objects as the server reads them. */
    private static JsonNode json(String array) throws SQLException {
        try {
            return array == null ? JSON.createArrayNode() : JSON.readTree(array);
        } catch (JsonProcessingException e) {
            throw new SQLException("PostgreSQL returned JSON that does not parse", e);
        }
    }

    /** A VM's row as read for a page: its id, its name, and every column. */
    record VmRow(String id, String name, Object[] columns) {
    }

    /**
     * The rows the server writes for one creation, as it writes them: intent first, in two transactions.
     * The first inserts the VM (marked CREATING), its network adapter and the request's audit entry
     * (REQUESTED); the second clears the mark and appends the outcome (SUCCEEDED). Chained, each entry is
     * appended as the server appends it (under an advisory lock held until commit, after the previous
     * entry's hash, checked by the copied trigger); unchained, without the lock and the trigger, with a
     * random previous hash: what the same rows cost when appends are not serialized.
     */
    void create(Connection c, String schema, boolean chained, BenchVm vm, String hostId, String kernelPath)
            throws SQLException {
        String id = "vm-" + HexFormat.of().formatHex(randomBytes(4));
        OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
        try {
            try (PreparedStatement insert = c.prepareStatement(INSERT_VM.formatted(schema))) {
                Object[] values = {null, null, null, kernelPath, "KERNEL", now, "NONE", hostId, 128, vm.name(), vm.owner(),
                        "ENLIGHTENED", "OFF", "created", now, null, now, 1, 0L, "CREATING", id};
                for (int i = 0; i < values.length; i++) {
                    insert.setObject(i + 1, values[i]);
                }
                insert.executeUpdate();
            }
            try (PreparedStatement insert = c.prepareStatement(INSERT_NIC.formatted(schema), new String[] {"id"})) {
                insert.setString(1, vm.mac());
                insert.setShort(2, (short) 0);
                insert.setString(3, id);
                insert.executeUpdate();
                try (ResultSet keys = insert.getGeneratedKeys()) {
                    keys.next();
                }
            }
            String request = "{\"disks\":[],\"memoryMib\":128,\"name\":\"" + vm.name()
                    + "\",\"profile\":\"ENLIGHTENED\",\"vcpus\":1}";
            appendAudit(c, schema, chained, vm, id, request, "REQUESTED");
            c.commit();
            try (PreparedStatement settle = c.prepareStatement(SETTLE_VM.formatted(schema))) {
                settle.setString(1, id);
                settle.executeUpdate();
            }
            appendAudit(c, schema, chained, vm, id, "{\"name\":\"" + vm.name() + "\"}", "SUCCEEDED");
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        }
    }

    private static void appendAudit(Connection c, String schema, boolean chained, BenchVm vm, String id, String parameters,
            String outcome) throws SQLException {
        String address;
        String stored;
        try (PreparedStatement normalize = c.prepareStatement(NORMALIZE)) {
            normalize.setString(1, "127.0.0.1");
            normalize.setString(2, parameters);
            try (ResultSet rs = normalize.executeQuery()) {
                rs.next();
                address = rs.getString(1);
                stored = rs.getString(2);
            }
        }
        String afterTime = String.join("\u001f", "", vm.owner(), vm.realmRole(), address, "vm.create", "vm:" + id, stored,
                outcome, "");
        // Unchained: the same statement without the lock, after a random previous hash instead of the last one.
        String previous = chained ? "coalesce((SELECT hash FROM %s.audit_log ORDER BY id DESC LIMIT 1), '%s')"
                .formatted(schema, GENESIS) : "'" + HexFormat.of().formatHex(randomBytes(32)) + "'";
        try (PreparedStatement append = c.prepareStatement((chained ? LOCK_AND_APPEND : APPEND).formatted(previous, schema))) {
            int i = 1;
            if (chained) {
                append.setLong(i++, REFERENCE_LOCK);
            }
            append.setString(i++, vm.owner());
            append.setArray(i++, c.createArrayOf("text", new String[] {vm.realmRole()}));
            append.setString(i++, address);
            append.setString(i++, "vm.create");
            append.setString(i++, "vm:" + id);
            append.setString(i++, stored);
            append.setString(i++, outcome);
            append.setString(i++, null);
            append.setString(i, afterTime);
            append.execute();
            if (chained && !append.getMoreResults()) {
                throw new SQLException("no answer to the append after the lock");
            }
            try (ResultSet rs = append.getResultSet()) {
                rs.next();
            }
        }
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}
