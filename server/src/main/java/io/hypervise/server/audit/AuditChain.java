package io.hypervise.server.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The audit log's hash chain: each entry's hash covers its own fields and the previous entry's hash,
 * so altering, removing or reordering any stored entry breaks every hash after it.
 *
 * <p>The entry's id is not hashed: the database assigns it when the row is inserted, after the hash
 * has been computed, and the application may not choose it. Order is sealed all the same, since each
 * entry's hash covers its predecessor's; the id only says where to find an entry.
 *
 * <p>The hashed form is canonical: fields in a fixed order separated by a control character that no
 * field may contain unescaped, and parameters as JSON with sorted keys (PostgreSQL's jsonb does not
 * keep key order, so the stored form must hash the same as the written one).
 */
public final class AuditChain {

    /** The hash before the first entry. */
    public static final String GENESIS = "0".repeat(64);

    private static final ObjectMapper CANONICAL = new ObjectMapper()
            .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
    private static final char SEPARATOR = '\u001f';

    private AuditChain() {
    }

    public static String hash(String previousHash, AuditRecord r) {
        StringBuilder s = new StringBuilder(previousHash);
        append(s, r.at().truncatedTo(ChronoUnit.MICROS).toString());
        return sha256(s.append(afterTime(r)).toString());
    }

    /**
     * The hashed form after the previous hash and the time: what an appender can compute before it knows
     * either, so that PostgreSQL finishes the hash inside the append ({@link #SQL_HASH}).
     */
    static String afterTime(AuditRecord r) {
        StringBuilder s = new StringBuilder();
        append(s, r.actor());
        append(s, String.join(",", r.roles()));
        append(s, r.sourceAddress());
        append(s, r.action());
        append(s, r.target());
        append(s, canonical(r.parameters()));
        append(s, r.outcome());
        append(s, r.reason());
        return s.toString();
    }

    /**
     * {@link #hash} in SQL, for an entry whose time ({@code at}, a timestamptz) and previous hash ({@code prev})
     * the database supplies, and whose {@link #afterTime} is the parameter: the time written as
     * {@code Instant.toString} writes it (UTC; no fraction at a whole second, else 3 digits when the
     * microseconds are whole milliseconds, else 6), then SHA-256 in lower-case hex.
     */
    static final String SQL_HASH = """
            encode(sha256(convert_to(prev || chr(31) || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                || CASE WHEN us = 0 THEN '' WHEN us % 1000 = 0 THEN '.' || lpad((us / 1000)::text, 3, '0')
                        ELSE '.' || lpad(us::text, 6, '0') END
                || 'Z' || CAST(? AS text), 'UTF8')), 'hex')""";

    /** A stored entry: its record and the hashes stored beside it. */
    public record Link(AuditRecord record, String previousHash, String hash) {
    }

    /** The first entry whose stored hashes do not match the chain, in id order; empty if the chain holds. */
    public static Optional<Break> verify(List<Link> links, String expectedPrevious) {
        String previous = expectedPrevious;
        for (Link link : links) {
            if (!link.previousHash().equals(previous)) {
                return Optional.of(new Break(link.record().id(), "its previous-hash does not match the entry before it"
                        + " (an entry was removed, inserted or reordered)"));
            }
            String expected = hash(previous, link.record());
            if (!expected.equals(link.hash())) {
                return Optional.of(new Break(link.record().id(), "its content does not match its hash (it was altered)"));
            }
            previous = link.hash();
        }
        return Optional.empty();
    }

    /** Where and why the chain breaks. */
    public record Break(long entryId, String reason) {
    }

    private static void append(StringBuilder s, String field) {
        String value = field == null ? "" : field;
        s.append(SEPARATOR).append(value.replace("\\", "\\\\").replace(String.valueOf(SEPARATOR), "\\u001f"));
    }

    static String canonical(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return "null";
        }
        try {
            Object tree = CANONICAL.treeToValue(node, Object.class);
            return CANONICAL.writeValueAsString(sortDeep(tree));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("audit parameters are not valid JSON: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Object sortDeep(Object value) {
        if (value instanceof java.util.Map<?, ?> map) {
            TreeMap<String, Object> sorted = new TreeMap<>();
            map.forEach((k, v) -> sorted.put((String) k, sortDeep(v)));
            return sorted;
        }
        if (value instanceof List<?> list) {
            return list.stream().map(AuditChain::sortDeep).toList();
        }
        return value;
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-256", e);
        }
    }
}
