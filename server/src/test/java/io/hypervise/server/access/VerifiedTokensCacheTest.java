package io.hypervise.server.access;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.server.access.VerifiedTokens.Key;
import io.quarkus.oidc.AccessTokenCredential;
import io.quarkus.oidc.IdTokenCredential;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import java.security.Principal;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** What the cache of verified tokens keeps, for whom and how long, on a clock the test moves. */
class VerifiedTokensCacheTest {

    private static final long NOW = 1_800_000_000_000L;

    private final AtomicLong clock = new AtomicLong(NOW);
    private final VerifiedTokens tokens = new VerifiedTokens(clock::get, 100);

    @Test
    void aTokenIsAnsweredUntilItsExpiryAndNotAMillisecondLonger() {
        Key key = new Key("api", AccessTokenCredential.class, "header.claims.signature");
        SecurityIdentity alice = identity("alice");
        tokens.remember(key, alice, NOW / 1000 + 300);

        assertThat(tokens.find(key)).isSameAs(alice);
        clock.set(NOW + 299_999);
        assertThat(tokens.find(key)).isSameAs(alice);
        clock.set(NOW + 300_000);
        assertThat(tokens.find(key)).as("at its exp").isNull();
    }

    @Test
    void onlyTheSameTextFromTheSameTenantAndOfTheSameKindIsFound() {
        tokens.remember(new Key("api", AccessTokenCredential.class, "header.claims.signature"), identity("alice"), NOW / 1000 + 300);

        assertThat(tokens.find(new Key("api", AccessTokenCredential.class, "header.claims.signaturf"))).as("one character changed").isNull();
        assertThat(tokens.find(new Key("Default", AccessTokenCredential.class, "header.claims.signature"))).as("another tenant").isNull();
        assertThat(tokens.find(new Key("api", IdTokenCredential.class, "header.claims.signature"))).as("an ID token").isNull();
        assertThat(tokens.find(null)).isNull();
    }

    @Test
    void anExpiredTokenIsNeverKept() {
        Key key = new Key("api", AccessTokenCredential.class, "old");
        tokens.remember(key, identity("bob"), NOW / 1000);
        tokens.remember(key, identity("bob"), NOW / 1000 - 60);

        assertThat(tokens.find(key)).isNull();
    }

    @Test
    void theFirstVerificationIsKeptAndHoldsNoMoreThanItsBound() {
        Key key = new Key("api", AccessTokenCredential.class, "t");
        SecurityIdentity first = identity("alice");
        tokens.remember(key, first, NOW / 1000 + 60);
        tokens.remember(key, identity("alice"), NOW / 1000 + 600);
        assertThat(tokens.find(key)).isSameAs(first);

        for (int i = 0; i < 1_000; i++) {
            tokens.remember(new Key("api", AccessTokenCredential.class, "token-" + i), identity("u" + i), NOW / 1000 + 60);
        }
        assertThat(tokens.size()).isLessThanOrEqualTo(100);
    }

    private static SecurityIdentity identity(String name) {
        Principal principal = () -> name;
        return QuarkusSecurityIdentity.builder().setPrincipal(principal).addRole("hypervise-admin").build();
    }
}
