package io.hypervise.server;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.hasKey;
import static org.hamcrest.Matchers.equalTo;

import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class OpenApiTest {

    @Test
    void theApiPublishesItsOpenApiDocumentWithEveryPath() {
        given().accept("application/json").when().get("/q/openapi")
                .then().statusCode(200)
                .body("info.title", equalTo("Hypervise API"))
                .body("paths", hasKey("/api/v1/vms"))
                .body("paths", hasKey("/api/v1/vms/{id}/{action}"))
                .body("paths", hasKey("/api/v1/host"))
                .body("paths", hasKey("/api/v1/me"));
    }

    @Test
    void swaggerUiIsServed() {
        given().when().get("/q/swagger-ui/").then().statusCode(200);
    }
}
