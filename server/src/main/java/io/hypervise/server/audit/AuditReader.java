package io.hypervise.server.audit;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Reads the audit log: filtered pages for auditors, and the chain walked end to end. */
@ApplicationScoped
public class AuditReader {

    /** How many entries verification holds at once, whatever the log's length. */
    static final int VERIFY_BATCH = 1000;

    private static final String COLUMNS = "id, at, actor, roles, host(source_address), action, target,"
            + " CAST(parameters AS text), outcome, reason, prev_hash, hash";

    @Inject
    AgroalDataSource dataSource;

    public AuditPage find(AuditQuery q) {
        List<String> where = new ArrayList<>();
        List<Object> args = new ArrayList<>();
        condition(where, args, "actor = ?", q.actor());
        condition(where, args, "starts_with(action, ?)", q.actionPrefix());
        condition(where, args, "target = ?", q.target());
        condition(where, args, "outcome = ?", q.outcome() == null ? null : q.outcome().name());
        condition(where, args, "at >= ?", q.from() == null ? null : OffsetDateTime.ofInstant(q.from(), java.time.ZoneOffset.UTC));
        condition(where, args, "at < ?", q.to() == null ? null : OffsetDateTime.ofInstant(q.to(), java.time.ZoneOffset.UTC));
        String filter = where.isEmpty() ? "" : " WHERE " + String.join(" AND ", where);
        try (Connection c = dataSource.getConnection()) {
            long total;
            try (PreparedStatement count = statement(c, "SELECT count(*) FROM audit_log" + filter, args);
                    ResultSet rs = count.executeQuery()) {
                rs.next();
                total = rs.getLong(1);
            }
            List<Object> pageArgs = new ArrayList<>(args);
            pageArgs.add(q.size());
            pageArgs.add((long) q.page() * q.size());
            List<AuditEntryView> entries = new ArrayList<>();
            try (PreparedStatement select = statement(c, "SELECT " + COLUMNS + " FROM audit_log" + filter
                    + " ORDER BY id DESC LIMIT ? OFFSET ?", pageArgs); ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    entries.add(AuditEntryView.of(link(rs)));
                }
            }
            return new AuditPage(entries, q.page(), q.size(), total);
        } catch (SQLException e) {
            throw new AuditLogException("cannot read the audit log: " + e.getMessage(), e);
        }
    }

    /** Walks the chain in id order, a batch at a time, to the first break or the end. */
    public AuditVerification verify() {
        long entries = 0;
        long after = 0;
        String previous = AuditChain.GENESIS;
        try (Connection c = dataSource.getConnection();
                PreparedStatement select = c.prepareStatement("SELECT " + COLUMNS
                        + " FROM audit_log WHERE id > ? ORDER BY id LIMIT " + VERIFY_BATCH)) {
            while (true) {
                List<AuditChain.Link> batch = new ArrayList<>(VERIFY_BATCH);
                select.setLong(1, after);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        batch.add(link(rs));
                    }
                }
                if (batch.isEmpty()) {
                    return AuditVerification.intact(entries);
                }
                Optional<AuditChain.Break> broken = AuditChain.verify(batch, previous);
                if (broken.isPresent()) {
                    return AuditVerification.broken(broken.get());
                }
                AuditChain.Link last = batch.getLast();
                entries += batch.size();
                after = last.record().id();
                previous = last.hash();
            }
        } catch (SQLException e) {
            throw new AuditLogException("cannot read the audit log: " + e.getMessage(), e);
        }
    }

    private static void condition(List<String> where, List<Object> args, String sql, Object value) {
        if (value != null) {
            where.add(sql);
            args.add(value);
        }
    }

    private static PreparedStatement statement(Connection c, String sql, List<Object> args) throws SQLException {
        PreparedStatement s = c.prepareStatement(sql);
        for (int i = 0; i < args.size(); i++) {
            s.setObject(i + 1, args.get(i));
        }
        return s;
    }

    private static AuditChain.Link link(ResultSet rs) throws SQLException {
        Array roles = rs.getArray(4);
        AuditRecord record = new AuditRecord(
                rs.getLong(1),
                rs.getObject(2, OffsetDateTime.class).toInstant(),
                rs.getString(3),
                roles == null ? List.of() : Arrays.asList((String[]) roles.getArray()),
                rs.getString(5),
                rs.getString(6),
                rs.getString(7),
                AuditLog.readJson(rs.getString(8)),
                rs.getString(9),
                rs.getString(10));
        return new AuditChain.Link(record, rs.getString(11), rs.getString(12));
    }
}
