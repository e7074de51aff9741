package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.server.inventory.LocalHost;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/** The metrics endpoints' answers to bad windows: a 400 problem naming each parameter and its rule. */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class MetricsApiTest {

    @Inject
    LocalHost localHost;

    @Test
    void aBadWindowIsA400NamingTheParameterAndItsRule() {
        for (String path : new String[] {"/api/v1/vms/no-such-vm/metrics", "/api/v1/hosts/" + localHost.id() + "/metrics"}) {
            as("admin").queryParam("from", "yesterday").queryParam("step", "0").when().get(path).then().statusCode(400)
                    .contentType("application/problem+json")
                    .body("violations.field", contains("from", "step"))
                    .body("violations[0].message", startsWith("must be an ISO-8601 date-time with an offset"))
                    .body("violations[1].message", containsString("from 1 s to 31 days"));
            as("admin").queryParam("from", "2026-11-25T02:00:00Z").queryParam("to", "2026-11-25T01:00:00Z")
                    .when().get(path).then().statusCode(400)
                    .body("violations[0].field", equalTo("to"))
                    .body("violations[0].message", equalTo("must be later than 'from'"));
            as("admin").queryParam("from", "2020-01-01T00:00:00Z").queryParam("to", "2026-11-01T00:00:00Z")
                    .queryParam("step", "1").when().get(path).then().statusCode(400)
                    .body("violations[0].field", equalTo("step"))
                    .body("violations[0].message", containsString("at most 11000 points"));
        }
    }

    @Test
    void aWindowWithNothingInItIsEmptyNotAnError() {
        as("admin").queryParam("from", "2001-01-01T00:00:00Z").queryParam("to", "2001-01-02T00:00:00Z")
                .when().get("/api/v1/hosts/" + localHost.id() + "/metrics").then().statusCode(200)
                .body("kind", equalTo("host"))
                .body("resolution", equalTo("hour"))
                .body("step", equalTo("PT1H"))
                .body("series.size()", equalTo(0));
        as("admin").when().get("/api/v1/hosts/elsewhere/metrics").then().statusCode(404);
    }
}
