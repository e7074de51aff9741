package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;

import io.agroal.api.AgroalDataSource;
import io.hypervise.engine.Engine;
import io.hypervise.server.inventory.VmCounts;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.ConfigProvider;
import org.flywaydb.core.Flyway;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The VM list as clients page through it (by number and by cursor), with totals that follow every
 * creation and deletion at once, and stay exact while VMs come and go on many connections and the
 * counts are folded meanwhile. VMs here are defined, never booted.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VmListApiTest {

    @Inject
    Engine engine;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    VmCounts counts;

    @Inject
    Flyway flyway;

    @BeforeAll
    void stubTemplate() {
        TestPolicies.ensureStubTemplate(engine);
    }

    private static String create(String user, String name) {
        return as(user).contentType("application/json")
                .body("{\"template\":\"" + TestPolicies.STUB + "\",\"name\":\"" + name + "\"}")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
    }

    private static JsonPath list(String user, String query) {
        return as(user).when().get("/api/v1/vms?" + (query.isEmpty() ? "size=50" : query)).then().statusCode(200).extract().jsonPath();
    }

    @Test
    void aCursorWalksEveryVmOnceInOrderAndAgreesWithPagesByNumber() {
        List<String> made = new ArrayList<>();
        for (int i = 6; i >= 0; i--) { // created out of order: the list is by name
            made.add(create("operator", "walk-" + i));
        }
        try {
            List<String> walked = new ArrayList<>();
            String after = null;
            int pages = 0;
            do {
                JsonPath page = list("operator", "name=walk-&size=3" + (after == null ? "" : "&after=" + after));
                assertThat(page.getLong("total")).isEqualTo(7);
                walked.addAll(page.getList("items.name", String.class));
                after = page.getString("next");
                pages++;
            } while (after != null);
            assertThat(pages).isEqualTo(3);
            assertThat(walked).containsExactly("walk-0", "walk-1", "walk-2", "walk-3", "walk-4", "walk-5", "walk-6");
            assertThat(list("operator", "name=walk-&size=3&page=1").getList("items.name", String.class))
                    .containsExactly("walk-3", "walk-4", "walk-5");
            assertThat(list("operator", "name=walk-&size=3&page=2").getString("next")).isNull();
            assertThat(list("operator", "name=walk-&size=7").getString("next")).as("a page that holds the rest").isNull();
            // A cursor at a VM deleted since still says where to go on from.
            JsonPath first = list("operator", "name=walk-&size=2");
            String cursor = first.getString("next");
            as("operator").when().delete("/api/v1/vms/" + made.get(made.size() - 2)).then().statusCode(204); // walk-1
            made.remove(made.size() - 2);
            assertThat(list("operator", "name=walk-&size=2&after=" + cursor).getList("items.name", String.class))
                    .containsExactly("walk-2", "walk-3");
        } finally {
            made.forEach(id -> as("operator").when().delete("/api/v1/vms/" + id));
        }
    }

    @Test
    void totalsFollowEachCreationAndDeletionAtOnceForEveryFilter() throws SQLException {
        long all = list("admin", "").getLong("total");
        long operators = list("admin", "owner=operator").getLong("total");
        long off = list("admin", "state=Off").getLong("total");
        String a = create("operator", "count-a");
        String b = create("operator", "count-b");
        try {
            assertThat(list("admin", "").getLong("total")).isEqualTo(all + 2);
            assertThat(list("admin", "owner=operator").getLong("total")).isEqualTo(operators + 2);
            assertThat(list("admin", "state=Off").getLong("total")).isEqualTo(off + 2);
            assertThat(list("admin", "owner=operator&state=Off").getList("items.id")).isNotEmpty();
            assertThat(list("admin", "owner=nobody").getLong("total")).isZero();
            assertThat(list("admin", "owner=nobody").getList("items")).isEmpty();
            assertThat(list("admin", "name=count-").getLong("total")).isEqualTo(2);
            as("operator").when().delete("/api/v1/vms/" + a).then().statusCode(204);
            assertThat(list("admin", "").getLong("total")).isEqualTo(all + 1);
            counts.fold();
            assertThat(list("admin", "").getLong("total")).as("folding changes no total").isEqualTo(all + 1);
            assertThat(list("admin", "owner=operator").getLong("total")).isEqualTo(operators + 1);
            assertCountsMatchTheRows();
        } finally {
            as("operator").when().delete("/api/v1/vms/" + a);
            as("operator").when().delete("/api/v1/vms/" + b);
        }
    }

    @Test
    void aSelfServiceUserCountsAndPagesOnlyTheirOwnVms() {
        TestPolicies.allowEverything("list-alice", "alice");
        String theirs = create("operator", "not-alices");
        String hers = create("alice", "alices");
        try {
            JsonPath mine = list("alice", "size=500");
            assertThat(mine.getList("items.owner", String.class)).isNotEmpty().containsOnly("alice");
            assertThat(mine.getLong("total")).isEqualTo(mine.getList("items").size());
            assertThat(list("alice", "owner=operator").getLong("total")).isZero();
            assertThat(list("alice", "owner=operator").getList("items")).isEmpty();
            // A cursor that names someone else's VM only says where to start: still only her own after it.
            String elsewhere = Base64.getUrlEncoder().withoutPadding()
                    .encodeToString(("a\u0000" + theirs).getBytes(StandardCharsets.UTF_8));
            assertThat(list("alice", "after=" + elsewhere).getList("items.owner", String.class)).containsOnly("alice");
        } finally {
            as("alice").when().delete("/api/v1/vms/" + hers);
            as("operator").when().delete("/api/v1/vms/" + theirs);
        }
    }

    @Test
    void cursorsThisListDidNotGiveAreRefusedNamingTheParameter() {
        for (String bad : List.of("not-base64!", "AAAA", Base64.getUrlEncoder().encodeToString("name-without-id".getBytes()),
                Base64.getUrlEncoder().encodeToString("x\u0000../../etc".getBytes()), "x".repeat(2000))) {
            as("admin").when().get("/api/v1/vms?after=" + bad).then().statusCode(400)
                    .contentType("application/problem+json")
                    .body("violations[0].field", equalTo("after"))
                    .body("violations[0].message", startsWith("must be the 'next' of a page of this list"));
        }
        String cursor = Base64.getUrlEncoder().withoutPadding().encodeToString("a\u0000vm-1".getBytes(StandardCharsets.UTF_8));
        as("admin").when().get("/api/v1/vms?page=1&after=" + cursor).then().statusCode(400)
                .body("violations[0].field", equalTo("after"))
                .body("violations[0].message", startsWith("asks for the page after a cursor, and page for a page by number"));
    }

    /** Creations and deletions on many connections at once, folds between them: every total stays the rows' count. */
    @Test
    void countsStayExactWhileVmsComeAndGoConcurrentlyAndAreFolded() throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(7);
        try {
            List<Future<?>> churn = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int worker = t;
                churn.add(pool.submit(() -> {
                    for (int i = 0; i < 6; i++) {
                        String id = create("operator", "churn-" + worker + "-" + i);
                        if (i % 2 == 0) {
                            as("operator").when().delete("/api/v1/vms/" + id).then().statusCode(204);
                        }
                    }
                    return null;
                }));
            }
            Future<?> folding = pool.submit(() -> {
                while (!done.get()) {
                    counts.fold();
                    Thread.sleep(20);
                }
                return null;
            });
            for (Future<?> f : churn) {
                f.get();
            }
            done.set(true);
            folding.get();
            assertCountsMatchTheRows();
            assertThat(list("admin", "name=churn-").getLong("total")).isEqualTo(18);
            counts.fold();
            assertCountsMatchTheRows();
        } finally {
            done.set(true);
            pool.shutdownNow();
            for (String id : list("admin", "name=churn-&size=500").getList("items.id", String.class)) {
                as("operator").when().delete("/api/v1/vms/" + id);
            }
        }
    }

    @Test
    void aListTheDatabaseCannotAnswerIsA503SayingWhyAndTheNextOneWorks() throws SQLException {
        String app = ConfigProvider.getConfig().getValue("quarkus.datasource.username", String.class);
        try (Connection c = flyway.getConfiguration().getDataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("REVOKE SELECT ON vm_counts FROM " + app); // as a DBA could, or a failing replica
            try {
                as("admin").when().get("/api/v1/vms").then().statusCode(503)
                        .contentType("application/problem+json")
                        .header("Retry-After", "5")
                        .body("detail", startsWith("cannot read the VM list: "));
            } finally {
                s.execute("GRANT SELECT ON vm_counts TO " + app);
            }
        }
        as("admin").when().get("/api/v1/vms").then().statusCode(200);
    }

    /** vm_counts sums, per owner and state, to what the vms table holds. */
    private void assertCountsMatchTheRows() throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            Map<String, Long> rows = counted(s, "SELECT owner || '/' || state, count(*) FROM vms GROUP BY 1");
            Map<String, Long> kept = counted(s, "SELECT owner || '/' || state, sum(n) FROM vm_counts GROUP BY 1 HAVING sum(n) <> 0");
            assertThat(kept).isEqualTo(rows);
        }
    }

    private static Map<String, Long> counted(Statement s, String sql) throws SQLException {
        Map<String, Long> out = new HashMap<>();
        try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getLong(2));
            }
        }
        return out;
    }
}
