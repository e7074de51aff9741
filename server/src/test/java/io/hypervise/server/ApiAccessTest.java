package io.hypervise.server;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.emptyIterable;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.BootSource;
import io.hypervise.engine.vm.DeviceProfile;
import io.hypervise.engine.vm.Display;
import io.hypervise.engine.vm.VmDefinition;
import io.hypervise.server.access.Caller;
import io.hypervise.server.inventory.VmInventory;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every API endpoint against every kind of caller, with real tokens from the real Keycloak: the
 * outcome each role must get, written out as a table.
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class ApiAccessTest {

    @Inject
    Engine engine;

    @Inject
    VmInventory inventory;

    @BeforeEach
    void defineAVm() throws Exception {
        ensureIdleVm(engine, inventory);
    }

    /** An Off VM named 'idle', owned by the host, that tests can aim at without booting anything. */
    static void ensureIdleVm(Engine engine, VmInventory inventory) throws Exception {
        if (engine.vms().list().stream().noneMatch(s -> s.id().equals("idle"))) {
            Path kernel = Files.writeString(engine.storage().path().resolve("kernel"), "never booted here");
            inventory.create(new VmDefinition("idle", "Idle VM", 2, 512, DeviceProfile.LEGACY, List.of(), List.of(),
                    new BootSource.Kernel(kernel, null, ""), Display.NONE), Caller.host());
        }
    }

    static RequestSpecification as(String user) {
        return user.equals("anonymous") ? given() : given().auth().oauth2(Tokens.accessToken(user));
    }

    @ParameterizedTest(name = "{0} {1} as {2} -> {3}")
    @CsvSource({
            "GET, /api/v1/host, anonymous, 401",
            "GET, /api/v1/host, admin, 200",
            "GET, /api/v1/host, operator, 200",
            "GET, /api/v1/host, auditor, 200",
            "GET, /api/v1/host, alice, 403",
            "GET, /api/v1/host, bob, 403",
            "GET, /api/v1/hosts, anonymous, 401",
            "GET, /api/v1/hosts, operator, 200",
            "GET, /api/v1/hosts, auditor, 200",
            "GET, /api/v1/hosts, alice, 403",
            "GET, /api/v1/hosts/no-such-host, admin, 404",
            "GET, /api/v1/vms, anonymous, 401",
            "GET, /api/v1/vms, admin, 200",
            "GET, /api/v1/vms, operator, 200",
            "GET, /api/v1/vms, auditor, 200",
            "GET, /api/v1/vms, alice, 200",
            "GET, /api/v1/vms/idle, anonymous, 401",
            "GET, /api/v1/vms/idle, admin, 200",
            "GET, /api/v1/vms/idle, operator, 200",
            "GET, /api/v1/vms/idle, auditor, 200",
            "GET, /api/v1/vms/idle, alice, 404",
            "GET, /api/v1/vms/idle, bob, 404",
            "GET, /api/v1/vms/idle/serial, anonymous, 401",
            "GET, /api/v1/vms/idle/serial, auditor, 200",
            "GET, /api/v1/vms/idle/serial, alice, 404",
            "GET, /api/v1/jobs/00000000-0000-0000-0000-000000000000, anonymous, 401",
            "GET, /api/v1/jobs/00000000-0000-0000-0000-000000000000, auditor, 404",
            "GET, /api/v1/me, anonymous, 401",
            "GET, /api/v1/me, admin, 200",
            "GET, /api/v1/me, bob, 200",
    })
    void eachCallerGetsWhatTheirRoleAllows(String method, String path, String user, int status) {
        var response = as(user).when().request(method, path).then().statusCode(status);
        if (status >= 400) {
            response.contentType("application/problem+json");
        }
    }

    @Test
    void selfServiceUsersDoNotSeeVmsTheyDoNotOwn() {
        as("alice").when().get("/api/v1/vms").then().statusCode(200).body("items.id", emptyIterable());
        as("operator").when().get("/api/v1/vms").then().statusCode(200).body("items.id", hasItem("idle"));
    }

    @Test
    void aDenialSaysWhy() {
        as("alice").when().get("/api/v1/host").then().statusCode(403)
                .body("detail", equalTo("alice has no role that may read hosts (roles: hv-self-service)"));
    }

    @Test
    void aCallerWithoutATokenIsToldHowToSignIn() {
        given().when().get("/api/v1/vms").then().statusCode(401)
                .header("WWW-Authenticate", startsWith("Bearer"))
                .body("detail", startsWith("sign in first"));
    }

    @Test
    void aForgedOrMangledTokenIsRefused() {
        String token = Tokens.accessToken("admin");
        String mangled = token.substring(0, token.length() - 4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
        given().auth().oauth2(mangled).when().get("/api/v1/host").then().statusCode(401)
                .contentType("application/problem+json");
        given().auth().oauth2("not-a-jwt").when().get("/api/v1/host").then().statusCode(401);
    }

    @Test
    void meTellsWhoTheCallerIsAndWhatTheyMayDo() {
        as("alice").when().get("/api/v1/me").then().statusCode(200)
                .body("username", equalTo("alice"))
                .body("roles", contains("hv-self-service"))
                .body("groups", contains("engineering"))
                .body("permissions.vm-operate", equalTo("own"))
                .body("permissions.host-read", equalTo("none"));
    }
}
