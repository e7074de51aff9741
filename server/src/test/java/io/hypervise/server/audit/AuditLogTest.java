package io.hypervise.server.audit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;

import io.agroal.api.AgroalDataSource;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.HvRole;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import java.sql.PreparedStatement;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import jakarta.transaction.TransactionRequiredException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The audit log against the real PostgreSQL and Keycloak: denials recorded by the permission filter,
 * entries that share their change's transaction, concurrent appends, queries and verification.
 * Shares its server and database with the other API tests; it only ever appends.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class AuditLogTest {

    @Inject
    AuditLog auditLog;

    @Inject
    AgroalDataSource dataSource;

    static RequestSpecification as(String user) {
        return given().auth().oauth2(Tokens.accessToken(user));
    }

    static JsonPath audit(String query) {
        return as("auditor").when().get("/api/v1/audit?" + query).then().statusCode(200).extract().jsonPath();
    }

    static Caller caller(String name) {
        return new Caller(name, Set.of(HvRole.OPERATOR), Set.of(), "127.0.0.1");
    }

    @Test
    void aDeniedRequestLeavesADeniedEntryWithTheActorAndTheReason() {
        Instant before = Instant.now().minusSeconds(1);
        as("alice").when().get("/api/v1/host").then().statusCode(403);

        JsonPath page = audit("actor=alice&action=http.get&target=/api/v1/host&outcome=DENIED&from=" + before);
        assertThat(page.getInt("total")).isGreaterThanOrEqualTo(1);
        Map<String, Object> entry = page.getMap("items[0]");
        assertThat(entry).containsEntry("actor", "alice")
                .containsEntry("action", "http.get")
                .containsEntry("target", "/api/v1/host")
                .containsEntry("outcome", "DENIED")
                .containsEntry("reason", "alice has no role that may read hosts (roles: hv-self-service)")
                .containsEntry("sourceAddress", "127.0.0.1")
                .containsEntry("roles", List.of("hv-self-service"));
        assertThat(page.getMap("items[0].parameters")).containsEntry("method", "GET").containsEntry("status", 403);
    }

    @Test
    void aRequestWithoutATokenIsAuditedAsAnonymous() {
        Instant before = Instant.now().minusSeconds(1);
        given().when().get("/api/v1/vms").then().statusCode(401);

        JsonPath page = audit("actor=anonymous&target=/api/v1/vms&from=" + before);
        assertThat(page.getString("items[0].outcome")).isEqualTo("DENIED");
        assertThat(page.getString("items[0].reason")).startsWith("sign in first");
        assertThat(page.getList("items[0].roles")).isEmpty();
    }

    @Test
    void onlyAuditorsAndAdminsReadTheLogAndTheRefusalIsItselfAudited() {
        Instant before = Instant.now().minusSeconds(1);
        as("alice").when().get("/api/v1/audit").then().statusCode(403).contentType("application/problem+json");
        as("operator").when().get("/api/v1/audit/verify").then().statusCode(403)
                .body("detail", equalTo("operator has no role that may read the audit log (roles: hv-operator)"));
        as("admin").when().get("/api/v1/audit").then().statusCode(200);
        as("auditor").when().get("/api/v1/audit/verify").then().statusCode(200);

        assertThat(audit("actor=alice&target=/api/v1/audit&from=" + before).getString("items[0].reason"))
                .isEqualTo("alice has no role that may read the audit log (roles: hv-self-service)");
        assertThat(audit("actor=operator&target=/api/v1/audit/verify&from=" + before).getString("items[0].outcome"))
                .isEqualTo("DENIED");
    }

    @Test
    void auditorsFilterAndPageNewestFirst() {
        String actor = "pager-" + UUID.randomUUID();
        Instant before = Instant.now().minusSeconds(1);
        for (int i = 1; i <= 5; i++) {
            int n = i;
            QuarkusTransaction.requiringNew().run(() -> auditLog.record(caller(actor), n % 2 == 0 ? "vm.start" : "vm.stop",
                    "vm:web-" + n, Map.of("n", n), AuditOutcome.SUCCEEDED, null));
        }
        QuarkusTransaction.requiringNew().run(() -> auditLog.record(caller(actor), "vm.delete", "vm:web-9", null,
                AuditOutcome.FAILED, "web-9 is Running; delete is possible when it is Off or Saved"));

        JsonPath first = audit("actor=" + actor + "&size=2");
        assertThat(first.getInt("total")).isEqualTo(6);
        assertThat(first.getList("items.target")).containsExactly("vm:web-9", "vm:web-5");
        JsonPath second = audit("actor=" + actor + "&size=2&page=1");
        assertThat(second.getList("items.target")).containsExactly("vm:web-4", "vm:web-3");
        assertThat(second.getInt("page")).isEqualTo(1);
        assertThat(second.getInt("size")).isEqualTo(2);

        assertThat(audit("actor=" + actor + "&action=vm.st").getInt("total")).isEqualTo(5);
        assertThat(audit("actor=" + actor + "&action=vm.start").getList("items.target")).containsExactly("vm:web-4", "vm:web-2");
        assertThat(audit("actor=" + actor + "&target=vm:web-3").getList("items.parameters.n")).containsExactly(3);
        assertThat(audit("actor=" + actor + "&outcome=failed").getList("items.reason"))
                .containsExactly("web-9 is Running; delete is possible when it is Off or Saved");
        assertThat(audit("actor=" + actor + "&from=" + before + "&to=" + Instant.now().plusSeconds(60)).getInt("total")).isEqualTo(6);
        assertThat(audit("actor=" + actor + "&to=" + before).getInt("total")).isZero();
        assertThat(audit("actor=" + actor + "&page=7").getList("items")).isEmpty();
    }

    @Test
    void badFiltersGetA400NamingTheParameterAndTheRule() {
        as("auditor").when().get("/api/v1/audit?size=501&page=-1&outcome=MAYBE&from=yesterday&to=2026-13-01T00:00:00Z")
                .then().statusCode(400).contentType("application/problem+json")
                .body("violations.field", contains("outcome", "from", "to", "page", "size"))
                .body("violations.find { it.field == 'size' }.message", equalTo("must be a whole number from 1 to 500; got '501'"))
                .body("violations.find { it.field == 'from' }.message",
                        equalTo("must be an ISO-8601 date-time with an offset, such as 2026-11-25T01:02:03Z; got 'yesterday'"));
        as("auditor").when().get("/api/v1/audit?size=ten").then().statusCode(400).body("violations", hasSize(1));
        as("auditor").when().get("/api/v1/audit?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z").then().statusCode(400)
                .body("violations[0].field", equalTo("to"));
        as("auditor").when().get("/api/v1/audit?actor=" + "x".repeat(300)).then().statusCode(400)
                .body("violations[0].field", equalTo("actor"));
        as("auditor").when().get("/api/v1/audit").then().statusCode(200).body("size", equalTo(50)).body("page", equalTo(0));
    }

    @Test
    void anEntryCommitsOrRollsBackWithTheChangeItRecords() throws Exception {
        String host = "audit-tx-" + UUID.randomUUID().toString().substring(0, 8);
        long[] id = new long[1];
        assertThatThrownBy(() -> QuarkusTransaction.requiringNew().run(() -> {
            insertHost(host);
            id[0] = auditLog.record(caller("tx-tester"), "host.create", "host:" + host, Map.of(), AuditOutcome.SUCCEEDED, null);
            throw new IllegalStateException("the change fails after its entry was written");
        })).hasMessageContaining("the change fails");
        assertThat(count("SELECT count(*) FROM hosts WHERE id = '" + host + "'")).isZero();
        assertThat(count("SELECT count(*) FROM audit_log WHERE id = " + id[0])).isZero();

        QuarkusTransaction.requiringNew().run(() -> {
            insertHost(host);
            id[0] = auditLog.record(caller("tx-tester"), "host.create", "host:" + host, Map.of(), AuditOutcome.SUCCEEDED, null);
        });
        assertThat(count("SELECT count(*) FROM hosts WHERE id = '" + host + "'")).isOne();
        assertThat(count("SELECT count(*) FROM audit_log WHERE id = " + id[0])).isOne();
        as("auditor").when().get("/api/v1/audit/verify").then().statusCode(200).body("intact", equalTo(true));
    }

    @Test
    void recordingOutsideATransactionIsRefused() {
        assertThatThrownBy(() -> auditLog.record(caller("nobody"), "vm.start", "vm:x", null, AuditOutcome.SUCCEEDED, null))
                .hasRootCauseInstanceOf(TransactionRequiredException.class);
    }

    @Test
    void twentyConcurrentAppendsLeaveAnIntactChain() throws Exception {
        String actor = "burst-" + UUID.randomUUID();
        int writers = 20;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            List<Future<Long>> ids = new ArrayList<>();
            for (int i = 0; i < writers; i++) {
                int n = i;
                ids.add(pool.submit(() -> {
                    start.await();
                    return QuarkusTransaction.requiringNew().call(() -> auditLog.record(caller(actor), "vm.start",
                            "vm:burst-" + n, Map.of("writer", n), AuditOutcome.SUCCEEDED, null));
                }));
            }
            start.countDown();
            for (Future<Long> id : ids) {
                assertThat(id.get()).isPositive();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(audit("actor=" + actor + "&size=500").getList("items")).hasSize(writers);
        as("auditor").when().get("/api/v1/audit/verify").then().statusCode(200)
                .body("intact", equalTo(true))
                .body("keySet()", hasItem("entries"));
    }

    @Test
    void verifyReportsAnIntactChainAndHowLongItIs() throws SQLException {
        long stored = count("SELECT count(*) FROM audit_log");
        JsonPath verified = as("auditor").when().get("/api/v1/audit/verify").then().statusCode(200).extract().jsonPath();
        assertThat(verified.getBoolean("intact")).isTrue();
        // At least what was there before asking: the auditor's own request is not audited, others may be.
        assertThat(verified.getLong("entries")).isGreaterThanOrEqualTo(stored);
    }

    /**
     * Appends let PostgreSQL finish each entry's hash; the verifier recomputes it in Java. Both must write the
     * time alike at the edges where Instant.toString drops digits: a whole second, whole milliseconds, a
     * microsecond, trailing zeros in the microseconds; and a field with the separator and backslashes.
     */
    @Test
    void theDatabasesHashOfAnEntryIsTheVerifiersAtEveryKindOfTime() throws Exception {
        JsonNode parameters = new ObjectMapper().readTree("{\"b\":[1,2.5,\"x\\u001fy\"],\"a\":\"back\\\\slash\"}");
        for (String time : List.of("2026-12-07T00:00:00Z", "2026-12-07T00:00:00.001Z", "2026-12-07T00:00:00.100Z",
                "2026-12-07T00:00:00.000001Z", "2026-12-07T00:00:00.123450Z", "2026-12-07T23:59:59.999999Z",
                "1999-01-02T03:04:05.000010Z")) {
            Instant at = Instant.parse(time);
            AuditRecord record = new AuditRecord(0, at, "al\u001fice", List.of("hv-admin", "hv-operator"), "10.0.0.1",
                    "vm.start", "vm:x", parameters, "SUCCEEDED", null);
            String previous = "ab".repeat(32);
            String sql = "WITH n AS (SELECT CAST(? AS timestamptz) AS at, ? AS prev) SELECT " + AuditChain.SQL_HASH
                    + " FROM (SELECT at, prev, extract(microseconds FROM at)::bigint % 1000000 AS us FROM n) m";
            try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
                s.setObject(1, java.time.OffsetDateTime.ofInstant(at, java.time.ZoneOffset.UTC));
                s.setString(2, previous);
                s.setString(3, AuditChain.afterTime(record));
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    assertThat(rs.getString(1)).as(time).isEqualTo(AuditChain.hash(previous, record));
                }
            }
        }
    }

    @Test
    void theAddressIsStoredOnlyWhenItIsAnIpLiteral() {
        assertThat(AuditLog.ipLiteral("127.0.0.1")).isEqualTo("127.0.0.1");
        assertThat(AuditLog.ipLiteral("::1")).isEqualTo("0:0:0:0:0:0:0:1");
        assertThat(AuditLog.ipLiteral("unknown")).isNull();
        assertThat(AuditLog.ipLiteral("999.1.1.1")).isNull();
        assertThat(AuditLog.ipLiteral("example.org")).isNull();
        assertThat(AuditLog.ipLiteral(":::zz")).isNull();
    }

    private void insertHost(String id) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute("INSERT INTO hosts (id, name, hostname, accelerator, cpus, memory_bytes, qemu_version)"
                    + " VALUES ('" + id + "', 'Host', 'localhost', 'TCG', 2, 8589934592, '7.2.22')");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private long count(String sql) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
