package io.hypervise.server.audit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import io.hypervise.server.access.Caller;
import io.hypervise.server.access.HvRole;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Rows changed behind the application's back, as the database's owner could: verification names the
 * first entry where the chain breaks. A test profile of its own gives this class a server and a
 * database of its own, so the damage it does is seen by no other test.
 */
@QuarkusTest
@TestProfile(AuditTamperingTest.OwnDatabase.class)
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuditTamperingTest {

    /** No settings of its own: being a different profile is what gives the class its own server and data folder. */
    public static class OwnDatabase implements QuarkusTestProfile {
    }

    @Inject
    AuditLog auditLog;

    @Inject
    Flyway flyway;

    private static final List<Long> ids = new ArrayList<>();

    static JsonPath verify() {
        return given().auth().oauth2(Tokens.accessToken("auditor")).when().get("/api/v1/audit/verify")
                .then().statusCode(200).extract().jsonPath();
    }

    @Test
    @Order(1)
    void aFreshChainVerifies() {
        Caller operator = new Caller("operator", Set.of(HvRole.OPERATOR), Set.of(), "127.0.0.1");
        for (int i = 0; i < 5; i++) {
            int n = i;
            ids.add(QuarkusTransaction.requiringNew().call(() -> auditLog.record(operator, "vm.start", "vm:web-" + n,
                    Map.of("n", n), AuditOutcome.SUCCEEDED, null)));
        }
        JsonPath verified = verify();
        assertThat(verified.getBoolean("intact")).isTrue();
        assertThat(verified.getLong("entries")).isGreaterThanOrEqualTo(5);
    }

    @Test
    @Order(2)
    void aRowAlteredByTheOwnerIsTheFirstBreak() throws SQLException {
        long altered = ids.get(2);
        owner("UPDATE audit_log SET reason = 'nothing happened here' WHERE id = ?", altered);

        JsonPath verified = verify();
        assertThat(verified.getBoolean("intact")).isFalse();
        assertThat(verified.getLong("firstBrokenEntry")).isEqualTo(altered);
        assertThat(verified.getString("reason")).contains("altered");

        owner("UPDATE audit_log SET reason = NULL WHERE id = ?", altered);
        assertThat(verify().getBoolean("intact")).as("restored to what was hashed").isTrue();
    }

    @Test
    @Order(3)
    void aMiddleRowDeletedByTheOwnerIsCaughtAtTheNextEntry() throws SQLException {
        owner("DELETE FROM audit_log WHERE id = ?", ids.get(1));

        JsonPath verified = verify();
        assertThat(verified.getBoolean("intact")).isFalse();
        assertThat(verified.getLong("firstBrokenEntry")).isEqualTo(ids.get(2));
        assertThat(verified.getString("reason")).contains("removed");
    }

    private void owner(String sql, long id) throws SQLException {
        DataSource owner = flyway.getConfiguration().getDataSource();
        try (Connection c = owner.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setLong(1, id);
            assertThat(s.executeUpdate()).isOne();
        }
    }
}
