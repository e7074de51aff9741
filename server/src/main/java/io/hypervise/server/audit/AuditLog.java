package io.hypervise.server.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.agroal.api.AgroalDataSource;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.HvRole;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Appends entries to the audit log, each hash-chained to the one before it.
 *
 * <p>Appends are serialized by a transaction-scoped advisory lock: an appender holds it from reading
 * the chain's last hash until its transaction ends, so no two entries can name the same predecessor
 * and ids grow in chain order. Record an entry as the last step of a transaction, since the lock is
 * held until commit.
 */
@ApplicationScoped
public class AuditLog {

    /** The advisory lock key that serializes appends (any constant no other code uses: "hvaudit" in ASCII). */
    static final long APPEND_LOCK = 0x6876617564697400L;

    static final int MAX_TARGET = 255;
    static final int MAX_REASON = 2000;
    static final int MAX_ACTOR = 255;

    private static final Pattern ACTION = Pattern.compile("[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)*");
    private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");

    // What the database would store, asked for before the hash is computed: PostgreSQL normalizes
    // addresses and JSON (key order, numbers), and the entry must hash the same when read back. Outside
    // the lock: nothing in it depends on the chain.
    private static final String NORMALIZE = "SELECT host(CAST(? AS inet)), CAST(CAST(? AS jsonb) AS text)";
    // Then the lock and the append in one round trip (two statements, one Sync). Under READ COMMITTED the
    // INSERT's snapshot is taken after the lock is held, so it follows the entry of whoever held it before;
    // the database supplies the time and the previous hash and finishes the hash (AuditChain.SQL_HASH), so
    // the lock is held for this one round trip and the commit, never while this thread waits to be run.
    private static final String LOCK_AND_APPEND = """
            SELECT pg_advisory_xact_lock(?);
            WITH n AS MATERIALIZED (
                SELECT t.at, extract(microseconds FROM t.at)::bigint %% 1000000 AS us,
                       coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), '%s') AS prev
                FROM (SELECT clock_timestamp() AS at) t)
            INSERT INTO audit_log (at, actor, roles, source_address, action, target, parameters, outcome, reason,
                                   prev_hash, hash)
            SELECT at, ?, ?, CAST(? AS inet), ?, ?, CAST(? AS jsonb), ?, ?, prev, %s FROM n
            RETURNING id""".formatted(AuditChain.GENESIS, AuditChain.SQL_HASH);

    static final ObjectMapper JSON = new ObjectMapper();
    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(AuditLog.class);

    @Inject
    AgroalDataSource dataSource;

    /**
     * Appends an entry in the caller's transaction: the entry commits or rolls back with the change it
     * records. There must be a transaction.
     *
     * @param parameters a {@link JsonNode}, a {@link Map} or a record, stored as a JSON object; null for none
     * @param reason why it failed or was denied; required unless the outcome is {@link AuditOutcome#SUCCEEDED}
     * @return the entry's id
     */
    @Transactional(Transactional.TxType.MANDATORY)
    public long record(Caller caller, String action, String target, Object parameters, AuditOutcome outcome, String reason) {
        if (!ACTION.matcher(action).matches() || action.length() > 100) {
            throw new IllegalArgumentException("audit action '" + action + "' is not dotted lower-case words (e.g. vm.start)");
        }
        boolean needsReason = outcome == AuditOutcome.FAILED || outcome == AuditOutcome.DENIED;
        if (needsReason && (reason == null || reason.isBlank())) {
            throw new IllegalArgumentException("a " + outcome + " audit entry needs a reason");
        }
        try (Connection c = dataSource.getConnection()) {
            return append(c, caller, action, clip(target, MAX_TARGET), json(parameters), outcome, clip(reason, MAX_REASON));
        } catch (SQLException e) {
            throw new AuditLogException("cannot append to the audit log: " + e.getMessage(), e);
        }
    }

    /** The target naming a VM in the log: {@code vm:<id>}. */
    public static String vm(String id) {
        return "vm:" + id;
    }

    /**
     * Records a refused request in a transaction of its own: a denial has no business transaction
     * around it, and must be kept even though the request changes nothing.
     */
    public long recordDenial(Caller caller, String action, String target, Object parameters, String reason) {
        return QuarkusTransaction.requiringNew().call(
                () -> record(caller, action, target, parameters, AuditOutcome.DENIED, reason));
    }

    /** Records a change that was attempted and failed, in a transaction of its own (the change's rolls back). */
    public long recordFailure(Caller caller, String action, String target, Object parameters, String reason) {
        return QuarkusTransaction.requiringNew().call(
                () -> record(caller, action, target, parameters, AuditOutcome.FAILED, reason));
    }

    /**
     * Records, in a transaction of its own that commits before this returns, that an action is about to
     * be carried out. Whoever acts calls this first and acts only if it returns: if the log cannot take
     * the entry, this throws {@link AuditLogException} and nothing must happen.
     */
    public long recordIntent(Caller caller, String action, String target, Object parameters) {
        return QuarkusTransaction.requiringNew().call(
                () -> record(caller, action, target, parameters, AuditOutcome.REQUESTED, null));
    }

    /**
     * Records how an action whose intent was recorded ended (error null: it succeeded), in a transaction
     * of its own. The action has happened either way, so a log that cannot take the entry now is
     * reported in the server's log and not to the caller: the intent entry already says it was done.
     */
    public void recordOutcome(Caller caller, String action, String target, Object parameters, String error) {
        try {
            if (error == null) {
                QuarkusTransaction.requiringNew().run(
                        () -> record(caller, action, target, parameters, AuditOutcome.SUCCEEDED, null));
            } else {
                recordFailure(caller, action, target, parameters, error);
            }
        } catch (RuntimeException e) {
            LOG.errorf("could not record the outcome of %s on %s by %s (%s): %s", action, target, caller.username(),
                    error == null ? "succeeded" : "failed: " + error, e.getMessage());
        }
    }

    private long append(Connection c, Caller caller, String action, String target, String parameters,
            AuditOutcome outcome, String reason) throws SQLException {
        String address;
        String storedParameters;
        try (PreparedStatement normalize = c.prepareStatement(NORMALIZE)) {
            normalize.setString(1, ipLiteral(caller.address()));
            normalize.setString(2, parameters);
            try (ResultSet rs = normalize.executeQuery()) {
                rs.next();
                address = rs.getString(1);
                storedParameters = rs.getString(2);
            }
        }
        List<String> roles = caller.roles().stream().map(HvRole::realmRole).sorted().toList();
        String actor = clip(caller.username(), MAX_ACTOR);
        String afterTime = AuditChain.afterTime(new AuditRecord(0, null, actor, roles, address, action, target,
                readJson(storedParameters), outcome.name(), reason));
        try (PreparedStatement append = c.prepareStatement(LOCK_AND_APPEND)) {
            append.setLong(1, APPEND_LOCK);
            append.setString(2, actor);
            append.setArray(3, c.createArrayOf("text", roles.toArray()));
            append.setString(4, address);
            append.setString(5, action);
            append.setString(6, target);
            append.setString(7, storedParameters);
            append.setString(8, outcome.name());
            append.setString(9, reason);
            append.setString(10, afterTime);
            append.execute(); // the lock's (empty) result
            if (!append.getMoreResults()) {
                throw new SQLException("PostgreSQL did not answer the audit log's append after its lock");
            }
            try (ResultSet rs = append.getResultSet()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** The address as an IP literal PostgreSQL's inet accepts, or null if it is none (e.g. "unknown"). */
    static String ipLiteral(String address) {
        if (address == null) {
            return null;
        }
        if (IPV4.matcher(address).matches()) {
            return address;
        }
        if (!IPV6.matcher(address).matches()) {
            return null;
        }
        try {
            // With a colon in it, Java parses the text as an IPv6 literal and never asks DNS.
            return InetAddress.getByAddress(InetAddress.getByName(address).getAddress()).getHostAddress();
        } catch (UnknownHostException notALiteral) {
            return null;
        }
    }

    private static String json(Object parameters) {
        if (parameters == null) {
            return "{}";
        }
        JsonNode node = parameters instanceof JsonNode n ? n : JSON.valueToTree(parameters);
        if (!node.isObject()) {
            throw new IllegalArgumentException("audit parameters must be a JSON object, not " + node.getNodeType());
        }
        try {
            return JSON.writeValueAsString(withoutNul(node));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("audit parameters cannot be written as JSON: " + e.getMessage(), e);
        }
    }

    /** jsonb, like every text column, cannot hold U+0000: it becomes U+FFFD, in keys and values. */
    private static JsonNode withoutNul(JsonNode node) {
        if (node.isTextual()) {
            return TextNode.valueOf(node.textValue().replace('\u0000', '\ufffd'));
        }
        if (node.isObject()) {
            ObjectNode copy = JSON.createObjectNode();
            node.properties().forEach(e -> copy.set(e.getKey().replace('\u0000', '\ufffd'), withoutNul(e.getValue())));
            return copy;
        }
        if (node.isArray()) {
            ArrayNode copy = JSON.createArrayNode();
            node.forEach(element -> copy.add(withoutNul(element)));
            return copy;
        }
        return node;
    }

    static JsonNode readJson(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("PostgreSQL returned JSON that does not parse", e);
        }
    }

    private static String clip(String s, int max) {
        if (s == null) {
            return null;
        }
        String clean = s.replace('\u0000', '\ufffd');
        return clean.length() <= max ? clean : clean.substring(0, max - 1) + "…";
    }
}
