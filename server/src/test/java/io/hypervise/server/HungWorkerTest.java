package io.hypervise.server;

import static io.hypervise.server.ApiAccessTest.as;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import io.hypervise.engine.Engine;
import io.hypervise.server.policy.PolicyEntity;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.TestPolicies;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * One worker stopped with SIGSTOP (as a hung worker would be) while the admin console's thumbnails keep
 * asking for its screen: the rest of the API answers as usual, the thumbnails of it fail within their
 * deadline, the VM is shown as unresponsive, and all of that clears when the worker runs again.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HungWorkerTest {

    private static final String POLICY = "hung-everything";
    private static final int SCREEN_REQUESTS = 40;
    /** Generous: these answer in milliseconds when nothing waits for the hung worker. */
    private static final Duration PROMPTLY = Duration.ofSeconds(5);

    @Inject
    Engine engine;

    private String id;

    @Test
    @Order(1)
    void aliceBootsAGuest() {
        TestPolicies.allowEverything(POLICY, "alice");
        id = as("alice").contentType("application/json").body("{\"template\":\"tiny-linux\",\"name\":\"hung box\"}")
                .when().post("/api/v1/vms").then().statusCode(201).extract().path("id");
        VmApiTest.awaitJob("alice", as("alice").when().post("/api/v1/vms/" + id + "/start").then().statusCode(202)
                .extract().path("id"));
        await("the guest's readiness marker", Duration.ofSeconds(90), () -> as("alice").when()
                .get("/api/v1/vms/" + id + "/serial?lines=200").then().extract().asString().contains("HYPERVISE-READY"));
        as("alice").when().get("/api/v1/vms/" + id + "/screen.png?maxAge=0").then().statusCode(200);
    }

    @AfterAll
    void cleanUp() {
        if (id != null) {
            engine.vms().turnOff(id);
        }
        QuarkusTransaction.requiringNew().run(() -> PolicyEntity.deleteById(POLICY));
    }

    @Test
    @Order(2)
    void aStoppedWorkersThumbnailsNeitherHangNorHoldUpTheApiAndTheVmShowsUnresponsiveUntilItRunsAgain()
            throws Exception {
        long pid = vm().getLong("workerPid");
        ExecutorService browsers = Executors.newFixedThreadPool(SCREEN_REQUESTS);
        signal("STOP", pid);
        try {
            List<Future<Integer>> screens = new ArrayList<>();
            for (int i = 0; i < SCREEN_REQUESTS; i++) {
                screens.add(browsers.submit(() -> as("alice").when()
                        .get("/api/v1/vms/" + id + "/screen.png?maxAge=0").then().extract().statusCode()));
            }
            Thread.sleep(500);

            promptly("the VM list", () -> as("alice").when().get("/api/v1/vms").then().statusCode(200));
            promptly("the host", () -> as("operator").when().get("/api/v1/host").then().statusCode(200));

            for (Future<Integer> screen : screens) {
                assertThat(screen.get(30, TimeUnit.SECONDS)).as("a thumbnail of a display that does not answer").isEqualTo(503);
            }
            promptly("a thumbnail of a display known not to answer", () -> as("alice").when()
                    .get("/api/v1/vms/" + id + "/screen.png?maxAge=0").then().statusCode(503)
                    .body("detail", containsString("has not answered since")));

            await("the VM shown as unresponsive", Duration.ofSeconds(30), () -> vm().get("unresponsive") != null);
            JsonPath hung = vm();
            assertThat(hung.getString("state")).isEqualTo("Running");
            assertThat(hung.getString("unresponsive.reason")).startsWith("its QMP monitor did not answer '");
            assertThat(hung.getList("actions", String.class)).containsExactly("turn-off");
            promptly("a pause of the unresponsive VM", () -> as("alice").when().post("/api/v1/vms/" + id + "/pause")
                    .then().statusCode(504).body("detail", containsString("only turning it off is possible")));
            assertThat(metrics()).contains("hypervise_vms_unresponsive 1.0")
                    .containsPattern("hypervise_vm_unresponsive_episodes_total [1-9]");
        } finally {
            signal("CONT", pid);
            browsers.shutdownNow();
        }

        await("the VM answering again", Duration.ofSeconds(30), () -> vm().get("unresponsive") == null);
        assertThat(vm().getString("state")).isEqualTo("Running");
        await("its thumbnail again", Duration.ofSeconds(30), () -> as("alice").when()
                .get("/api/v1/vms/" + id + "/screen.png?maxAge=0").then().extract().statusCode() == 200);
        assertThat(metrics()).contains("hypervise_vms_unresponsive 0.0");
        as("alice").when().post("/api/v1/vms/" + id + "/pause").then().statusCode(200).body("state", equalTo("Paused"));
    }

    private JsonPath vm() {
        return as("alice").when().get("/api/v1/vms/" + id).then().statusCode(200).extract().jsonPath();
    }

    private static String metrics() {
        return given().when().get("/q/metrics").then().statusCode(200).extract().asString();
    }

    private static void promptly(String what, Runnable request) {
        long started = System.nanoTime();
        request.run();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("time to answer: " + what).isLessThan(PROMPTLY);
    }

    private static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    private static void signal(String signal, long pid) throws Exception {
        int exit = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start().waitFor();
        assertThat(exit).as("kill -" + signal + " " + pid).isZero();
    }
}
