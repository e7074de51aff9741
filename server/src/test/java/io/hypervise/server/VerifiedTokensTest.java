package io.hypervise.server;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import io.hypervise.server.access.VerifiedTokens;
import io.hypervise.server.testing.KeycloakTestResource;
import io.hypervise.server.testing.TemporaryDataDir;
import io.hypervise.server.testing.Tokens;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * A token the server verified once is not verified again on every request, and the cache it is kept in
 * answers only for that exact token: one with another signature, or with claims changed under a valid
 * signature, is refused as before. (A session signed out here is refused even with its tokens cached:
 * ConsoleTest replays such a cookie.)
 */
@QuarkusTest
@WithTestResource(TemporaryDataDir.class)
@WithTestResource(KeycloakTestResource.class)
class VerifiedTokensTest {

    @Inject
    VerifiedTokens verified;

    @Test
    void theSameTokenIsVerifiedOnceAndAnsweredAsItsUser() {
        String token = Tokens.accessToken("alice");
        given().auth().oauth2(token).get("/api/v1/me").then().statusCode(200).body("username", equalTo("alice"));
        long hits = verified.hits();
        for (int i = 0; i < 5; i++) {
            given().auth().oauth2(token).get("/api/v1/me").then().statusCode(200).body("username", equalTo("alice"));
        }
        assertThat(verified.hits() - hits).as("requests answered without verifying the token again").isEqualTo(5);
        given().auth().oauth2(token).get("/api/v1/host").then().statusCode(403);
    }

    @Test
    void aCachedTokenWithAnotherSignatureOrOtherClaimsIsRefused() {
        String token = Tokens.accessToken("alice");
        given().auth().oauth2(token).get("/api/v1/me").then().statusCode(200);
        String[] parts = token.split("\\.");

        String otherSignature = parts[0] + "." + parts[1] + "." + flipped(parts[2]);
        given().auth().oauth2(otherSignature).get("/api/v1/me").then().statusCode(401);

        String claims = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        String asAdmin = claims.replace("\"preferred_username\":\"alice\"", "\"preferred_username\":\"admin\"")
                .replace("\"hv-self-service\"", "\"hv-admin\"");
        assertThat(asAdmin).isNotEqualTo(claims);
        String forged = parts[0] + "." + Base64.getUrlEncoder().withoutPadding()
                .encodeToString(asAdmin.getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
        given().auth().oauth2(forged).get("/api/v1/me").then().statusCode(401);
        given().auth().oauth2(forged).get("/api/v1/host").then().statusCode(401);
    }

    /** The signature with one of its bytes changed, still valid base64url. */
    private static String flipped(String signature) {
        byte[] bytes = Base64.getUrlDecoder().decode(signature);
        bytes[bytes.length / 2] ^= 0x01;
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
