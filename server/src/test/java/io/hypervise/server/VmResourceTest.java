package io.hypervise.server;

import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.server.vm.VmService;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class VmResourceTest {

    @Inject
    Engine engine;

    @Inject
    VmService vms;

    @BeforeEach
    void defineAnOffVm() throws Exception {
        ApiAccessTest.ensureIdleVm(engine, vms);
    }

    @Test
    void theListShowsEachVmWithItsStateAndTheActionsItAllows() {
        ApiAccessTest.as("admin").when().get("/api/v1/vms")
                .then().statusCode(200)
                .body("items.id", hasItem("idle"))
                .body("items.find { it.id == 'idle' }.state", equalTo("Off"))
                .body("items.find { it.id == 'idle' }.vcpus", equalTo(2))
                .body("items.find { it.id == 'idle' }.profile", equalTo("legacy"))
                .body("items.find { it.id == 'idle' }.actions", contains("start", "reconfigure", "delete", "checkpoint",
                        "apply-checkpoint", "delete-checkpoint", "resize-disk", "add-disk", "remove-disk",
                        "change-resources", "change-medium", "add-nic", "remove-nic", "change-vcpus", "change-memory"));
    }

    @Test
    void aVmThatNeverRanHasAnEmptySerialConsole() {
        ApiAccessTest.as("admin").when().get("/api/v1/vms/idle/serial")
                .then().statusCode(200).body(equalTo(""));
    }

    @Test
    void aBadLineCountIsA400NamingTheParameterAndTheRule() {
        for (String bad : List.of("0", "10001", "abc", "-5", "1e3")) {
            ApiAccessTest.as("admin").queryParam("lines", bad).when().get("/api/v1/vms/idle/serial")
                    .then().statusCode(400)
                    .contentType("application/problem+json")
                    .body("violations[0].field", equalTo("lines"))
                    .body("violations[0].message", startsWith("must be a whole number from 1 to 10000"));
        }
    }

    @Test
    void unknownPathsAndMethodsAreProblemsToo() {
        ApiAccessTest.as("admin").when().get("/api/v1/nothing-here")
                .then().statusCode(404).contentType("application/problem+json");
        ApiAccessTest.as("admin").when().delete("/api/v1/host")
                .then().statusCode(405).contentType("application/problem+json");
    }
}
