package io.hypervise.server.access;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.quarkus.oidc.runtime.OidcUtils;
import io.quarkus.security.credential.TokenCredential;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.SecurityIdentityAugmentor;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.quarkus.vertx.http.runtime.security.HttpSecurityUtils;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.eclipse.microprofile.jwt.JsonWebToken;

/**
 * Tokens already verified, so that a client sending the same token request after request pays for its
 * signature check, claim parsing and roles once, not on every request (at 50 clients listing VMs that
 * was a quarter of the server's CPU).
 *
 * <p>A token's identity, as Quarkus OIDC built it, is kept until the token expires (by its {@code exp}
 * claim, never longer), keyed by the OIDC tenant that verified it, the kind of token and the token's exact
 * text: a token that differs in one character, a signature included, is not found and is verified afresh.
 * It is an {@link IdentityProvider} asked before OIDC's (a miss answers nothing, and OIDC verifies); the
 * first {@link SecurityIdentityAugmentor} ({@link Keeper}) keeps what OIDC verified before any other
 * augmentor changes it. Every later augmentor still runs on every request, cached or not: a token of a session
 * signed out here names nobody from that moment ({@link SignedOutSessions}).
 *
 * <p>What a cache changes: a signing key Keycloak withdraws stops new tokens at once but lets a token
 * verified before it was withdrawn serve until it expires, as a token verified a moment earlier would.
 */
@ApplicationScoped
public class VerifiedTokens implements IdentityProvider<TokenAuthenticationRequest> {

    /** More tokens than any number of people and scripts use at once; the least used go first. */
    static final int MAX_TOKENS = 10_000;

    private final Cache<Key, Verified> verified;
    private final LongSupplier nowMillis;
    private final LongAdder hits = new LongAdder();

    /** A token as one OIDC tenant verified it: an access token (the API) or a session's ID token (pages). */
    record Key(String tenant, Class<?> kind, String token) {
    }

    /** An identity and when its token expires. */
    record Verified(SecurityIdentity identity, long expiresAtMillis) {
    }

    public VerifiedTokens() {
        this(System::currentTimeMillis, MAX_TOKENS);
    }

    VerifiedTokens(LongSupplier nowMillis, int maxTokens) {
        this.nowMillis = nowMillis;
        this.verified = Caffeine.newBuilder()
                .maximumSize(maxTokens)
                .executor(Runnable::run) // evictions on the caller's thread: small, and no pool to wait on
                .ticker(() -> TimeUnit.MILLISECONDS.toNanos(nowMillis.getAsLong()))
                .expireAfter(Expiry.<Key, Verified>creating(
                        (key, v) -> Duration.ofMillis(Math.max(0, v.expiresAtMillis() - nowMillis.getAsLong()))))
                .build();
    }

    @Override
    public Class<TokenAuthenticationRequest> getRequestType() {
        return TokenAuthenticationRequest.class;
    }

    /** Asked before Quarkus OIDC's provider (which has the default, SYSTEM_FIRST + 1). */
    @Override
    public int priority() {
        return SYSTEM_FIRST + 100;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(TokenAuthenticationRequest request, AuthenticationRequestContext context) {
        RoutingContext routing = HttpSecurityUtils.getRoutingContextAttribute(request);
        SecurityIdentity found = find(key(routing, request.getToken()));
        if (found == null) {
            return Uni.createFrom().nullItem();
        }
        hits.increment();
        // The identity names the request it was verified in: this one's takes its place.
        return Uni.createFrom().item(QuarkusSecurityIdentity.builder(found)
                .addAttribute(RoutingContext.class.getName(), routing)
                .addAttribute(AuthenticationRequestContext.class.getName(),
                        routing.get(AuthenticationRequestContext.class.getName()))
                .build());
    }

    /** How many requests were answered from here since the server started. */
    public long hits() {
        return hits.sum();
    }

    /** How many verified tokens are kept now. */
    long size() {
        verified.cleanUp();
        return verified.estimatedSize();
    }

    SecurityIdentity find(Key key) {
        if (key == null) {
            return null;
        }
        Verified v = verified.getIfPresent(key);
        // Caffeine may hand out an entry in the instant it expires: the token's own expiry decides.
        return v != null && nowMillis.getAsLong() < v.expiresAtMillis() ? v.identity() : null;
    }

    /** Keeps what OIDC verified for a request, until the token's {@code exp} (seconds since the epoch). */
    void remember(Key key, SecurityIdentity identity, long expiresAtEpochSecond) {
        long expires = TimeUnit.SECONDS.toMillis(expiresAtEpochSecond);
        if (key != null && expires > nowMillis.getAsLong() && verified.getIfPresent(key) == null) {
            verified.put(key, new Verified(identity, expires));
        }
    }

    static Key key(RoutingContext routing, TokenCredential credential) {
        if (routing == null || credential == null || credential.getToken() == null) {
            return null;
        }
        String tenant = routing.get(OidcUtils.TENANT_ID_ATTRIBUTE);
        return tenant == null ? null : new Key(tenant, credential.getClass(), credential.getToken());
    }

    /**
     * The first augmentor: keeps the identity OIDC verified, before any other augmentor changes it. An identity
     * this cache answered is already kept.
     */
    @ApplicationScoped
    static class Keeper implements SecurityIdentityAugmentor {

        private final VerifiedTokens tokens;

        Keeper(VerifiedTokens tokens) {
            this.tokens = tokens;
        }

        @Override
        public int priority() {
            return Integer.MAX_VALUE;
        }

        @Override
        public Uni<SecurityIdentity> augment(SecurityIdentity identity, AuthenticationRequestContext context) {
            return Uni.createFrom().item(identity);
        }

        @Override
        public Uni<SecurityIdentity> augment(SecurityIdentity identity, AuthenticationRequestContext context,
                Map<String, Object> attributes) {
            if (!identity.isAnonymous() && identity.getPrincipal() instanceof JsonWebToken token) {
                // The token the principal was read from (a session also carries its access and refresh tokens).
                RoutingContext routing = HttpSecurityUtils.getRoutingContextAttribute(attributes);
                for (var credential : identity.getCredentials()) {
                    if (credential instanceof TokenCredential t && token.getRawToken() != null
                            && token.getRawToken().equals(t.getToken())) {
                        tokens.remember(key(routing, t), identity, token.getExpirationTime());
                        break;
                    }
                }
            }
            return Uni.createFrom().item(identity);
        }
    }
}
