package io.hypervise.bench.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
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

    private static final String COLUMNS = "ve1_0.id, ve1_0.boot_command_line, ve1_0.boot_image, ve1_0.boot_initramfs, "
            + "ve1_0.boot_kernel, ve1_0.boot_kind, ve1_0.created_at, ve1_0.display, ve1_0.host_id, ve1_0.memory_mib, "
            + "ve1_0.name, ve1_0.owner, ve1_0.profile, ve1_0.state, ve1_0.state_reason, ve1_0.state_since, "
            + "ve1_0.template_id, ve1_0.updated_at, ve1_0.vcpus, ve1_0.version";
    private static final String DISKS_OF = "select d1_0.vm_id, d1_0.id, d1_0.format, d1_0.path, d1_0.position, "
            + "d1_0.read_only, d1_0.size_bytes from disks d1_0 where d1_0.vm_id = any (?) order by d1_0.position";
    private static final String NICS_OF = "select n1_0.vm_id, n1_0.id, n1_0.mac, n1_0.position, n1_0.switch_id from nics n1_0 "
            + "where n1_0.vm_id = any (?) order by n1_0.position";
    private static final String INSERT_VM = """
            insert into %s.vms (boot_command_line, boot_image, boot_initramfs, boot_kernel, boot_kind, created_at, display,
                host_id, memory_mib, name, owner, profile, state, state_reason, state_since, template_id, updated_at, vcpus,
                version, id)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";
    private static final String INSERT_NIC = "insert into %s.nics (mac, position, vm_id) values (?, ?, ?)";
    // As io.hypervise.server.audit.AuditLog appends: lock, read what PostgreSQL will store and the last hash, insert.
    private static final String LOCK = "SELECT pg_advisory_xact_lock(?)";
    private static final String PREPARE = """
            SELECT clock_timestamp(), host(CAST(? AS inet)), CAST(CAST(? AS jsonb) AS text),
                   (SELECT hash FROM %s.audit_log ORDER BY id DESC LIMIT 1)""";
    private static final String INSERT_AUDIT = """
            INSERT INTO %s.audit_log (at, actor, roles, source_address, action, target, parameters, outcome, reason,
                                   prev_hash, hash)
            VALUES (?, ?, ?, CAST(? AS inet), ?, ?, CAST(? AS jsonb), ?, ?, ?, ?)
            RETURNING id""";
    /** Not the server's key: its appends and these never wait for each other. */
    private static final long REFERENCE_LOCK = 0x62656e6368726566L;
    /** The previous hash of the first entry. */
    private static final String GENESIS = "0".repeat(64);
    private static final SecureRandom RANDOM = new SecureRandom();

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
     * with {@code triggers}, also the triggers of the originals (such as the audit log's check that an
     * entry continues the chain), their functions copied to read the schema's tables.
     */
    void createReferenceTables(String schema, boolean triggers) throws SQLException {
        try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.ownerUser(), db.ownerPassword());
                Statement s = c.createStatement()) {
            for (String sql : List.of(
                    "CREATE SCHEMA %s",
                    "CREATE TABLE %s.vms (LIKE public.vms INCLUDING ALL)",
                    "ALTER TABLE %s.vms ADD FOREIGN KEY (host_id) REFERENCES public.hosts (id)",
                    "ALTER TABLE %s.vms ADD FOREIGN KEY (template_id) REFERENCES public.templates (id) ON DELETE SET NULL",
                    "CREATE TABLE %s.nics (LIKE public.nics INCLUDING ALL)",
                    "ALTER TABLE %s.nics ADD FOREIGN KEY (vm_id) REFERENCES %1$s.vms (id) ON DELETE CASCADE",
                    "CREATE TABLE %s.audit_log (LIKE public.audit_log INCLUDING ALL)")) {
                s.execute(sql.formatted(schema));
            }
            if (triggers) {
                copyTriggers(s, schema);
            }
            s.execute("GRANT USAGE ON SCHEMA %s TO %s".formatted(schema, db.appUser()));
            s.execute("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA %s TO %s".formatted(schema, db.appUser()));
        }
    }

    private static void copyTriggers(Statement s, String schema) throws SQLException {
        List<String> copies = new ArrayList<>();
        try (ResultSet rs = s.executeQuery("""
                SELECT c.relname, p.proname, p.prosrc, l.lanname, pg_get_triggerdef(t.oid)
                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
                     JOIN pg_language l ON l.oid = p.prolang
                WHERE c.relnamespace = 'public'::regnamespace AND c.relname IN ('vms', 'nics', 'audit_log')
                  AND NOT t.tgisinternal""")) {
            while (rs.next()) {
                String table = rs.getString(1);
                String function = rs.getString(2);
                copies.add("CREATE FUNCTION %s.%s() RETURNS trigger LANGUAGE %s SET search_path = %1$s, public AS $copy$%s$copy$"
                        .formatted(schema, function, rs.getString(4), rs.getString(3)));
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
     * One page of the VM list as the server queries it: the count, the page, then the page's disks and
     * network adapters in one query each (the entity's batch fetch); every row read into objects.
     */
    ListPage list(Connection c, Optional<String> owner, int page, int size) throws SQLException {
        String where = "where 1=1" + (owner.isPresent() ? " and ve1_0.owner=?" : "");
        long total;
        try (PreparedStatement count = c.prepareStatement("select count(*) from vms ve1_0 " + where)) {
            if (owner.isPresent()) {
                count.setString(1, owner.get());
            }
            try (ResultSet rs = count.executeQuery()) {
                rs.next();
                total = rs.getLong(1);
            }
        }
        List<VmRow> rows = new ArrayList<>(size);
        try (PreparedStatement select = c.prepareStatement("select " + COLUMNS + " from vms ve1_0 " + where
                + " order by ve1_0.name, ve1_0.id offset ? rows fetch first ? rows only")) {
            int i = 1;
            if (owner.isPresent()) {
                select.setString(i++, owner.get());
            }
            select.setInt(i++, page * size);
            select.setInt(i, size);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    rows.add(VmRow.of(rs));
                }
            }
        }
        Array ids = c.createArrayOf("text", rows.stream().map(VmRow::id).toArray());
        List<List<Object>> devices = new ArrayList<>();
        for (String sql : List.of(DISKS_OF, NICS_OF)) {
            try (PreparedStatement select = c.prepareStatement(sql)) {
                select.setArray(1, ids);
                try (ResultSet rs = select.executeQuery()) {
                    int columns = rs.getMetaData().getColumnCount();
                    while (rs.next()) {
                        List<Object> row = new ArrayList<>(columns);
                        for (int i = 1; i <= columns; i++) {
                            row.add(rs.getObject(i));
                        }
                        devices.add(row);
                    }
                }
            }
        }
        c.commit();
        return new ListPage(rows, total, devices.size());
    }

    record ListPage(List<VmRow> rows, long total, int devices) {
    }

    /** A vms row as Hibernate reads it into the entity. */
    record VmRow(String id, String bootCommandLine, String bootImage, String bootInitramfs, String bootKernel,
            String bootKind, OffsetDateTime createdAt, String display, String hostId, int memoryMib, String name,
            String owner, String profile, String state, String stateReason, OffsetDateTime stateSince,
            String templateId, OffsetDateTime updatedAt, int vcpus, long version) {

        static VmRow of(ResultSet rs) throws SQLException {
            return new VmRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                    rs.getString(6), rs.getObject(7, OffsetDateTime.class), rs.getString(8), rs.getString(9), rs.getInt(10),
                    rs.getString(11), rs.getString(12), rs.getString(13), rs.getString(14), rs.getString(15),
                    rs.getObject(16, OffsetDateTime.class), rs.getString(17), rs.getObject(18, OffsetDateTime.class),
                    rs.getInt(19), rs.getLong(20));
        }
    }

    /**
     * The rows the server writes for one creation, in one transaction: the VM, its network adapter, and
     * its audit entry. Chained, the entry is appended as the server appends it (under an advisory lock
     * held until commit, after the previous entry's hash, checked by the copied trigger); unchained,
     * without the lock and the trigger, with a random previous hash: what the same rows cost when
     * appends are not serialized.
     */
    void create(Connection c, String schema, boolean chained, BenchVm vm, String hostId, String kernelPath)
            throws SQLException {
        String id = "vm-" + HexFormat.of().formatHex(randomBytes(4));
        OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
        try {
            try (PreparedStatement insert = c.prepareStatement(INSERT_VM.formatted(schema))) {
                Object[] values = {null, null, null, kernelPath, "KERNEL", now, "NONE", hostId, 128, vm.name(), vm.owner(),
                        "ENLIGHTENED", "OFF", "created", now, null, now, 1, 0L, id};
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
            appendAudit(c, schema, chained, vm, id);
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        }
    }

    private static void appendAudit(Connection c, String schema, boolean chained, BenchVm vm, String id) throws SQLException {
        if (chained) {
            try (PreparedStatement lock = c.prepareStatement(LOCK)) {
                lock.setLong(1, REFERENCE_LOCK);
                lock.execute();
            }
        }
        String parameters = "{\"disks\":[],\"memoryMib\":128,\"name\":\"" + vm.name() + "\",\"profile\":\"ENLIGHTENED\",\"vcpus\":1}";
        OffsetDateTime at;
        String address;
        String stored;
        String previous;
        try (PreparedStatement prepare = c.prepareStatement(PREPARE.formatted(schema))) {
            prepare.setString(1, "127.0.0.1");
            prepare.setString(2, parameters);
            try (ResultSet rs = prepare.executeQuery()) {
                rs.next();
                at = rs.getObject(1, OffsetDateTime.class);
                address = rs.getString(2);
                stored = rs.getString(3);
                previous = rs.getString(4);
            }
        }
        if (!chained) {
            previous = HexFormat.of().formatHex(randomBytes(32));
        } else if (previous == null) {
            previous = GENESIS;
        }
        String target = "vm:" + id;
        String hash = sha256(String.join("\u001f", previous, at.truncatedTo(ChronoUnit.MICROS).toInstant().toString(),
                vm.owner(), vm.realmRole(), address, "vm.create", target, stored, "SUCCEEDED", ""));
        try (PreparedStatement insert = c.prepareStatement(INSERT_AUDIT.formatted(schema))) {
            insert.setObject(1, at);
            insert.setString(2, vm.owner());
            insert.setArray(3, c.createArrayOf("text", new String[] {vm.realmRole()}));
            insert.setString(4, address);
            insert.setString(5, "vm.create");
            insert.setString(6, target);
            insert.setString(7, stored);
            insert.setString(8, "SUCCEEDED");
            insert.setString(9, null);
            insert.setString(10, previous);
            insert.setString(11, hash);
            try (ResultSet rs = insert.executeQuery()) {
                rs.next();
            }
        }
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-256", e);
        }
    }
}
