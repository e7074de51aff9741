package io.hypervise.server.access;

import io.quarkus.oidc.AuthorizationCodeTokens;
import io.quarkus.oidc.SecurityEvent;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.oidc.runtime.OidcJwtCallerPrincipal;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.SecurityIdentityAugmentor;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.jwt.JsonWebToken;
import org.jboss.logging.Logger;

/**
 * Sign-in sessions that were signed out here (Keycloak's session id, the tokens' {@code sid}), and
 * the rule that a token of one names nobody.
 *
 * <p>Signing out ends the session at Keycloak (RP-initiated logout, {@code quarkus.oidc.logout.path})
 * and removes the browser's session cookie. But that cookie carries the tokens themselves, and an ID
 * token stays valid until it expires (five minutes): a copy of the cookie would open pages and
 * consoles until then. So the server remembers the session as ended until its tokens have expired
 * (after which Keycloak, which ended the session, refuses to refresh them) and, for a token of it,
 * makes the caller anonymous: pages send it to sign in, the console's handshake answers 401.
 * Signing out also ends the consoles opened under the session ({@link SignedOut}).
 */
@ApplicationScoped
public class SignedOutSessions implements SecurityIdentityAugmentor {

    private static final Logger LOG = Logger.getLogger(SignedOutSessions.class);

    /** Kept past the tokens' expiry, for clocks that differ (Quarkus allows no lifespan grace by default). */
    private static final Duration MARGIN = Duration.ofMinutes(5);

    private final Map<String, Instant> ended = new ConcurrentHashMap<>();

    @Inject
    Event<SignedOut> signedOut;

    /** A sign-in session was signed out: its consoles are to end. */
    public record SignedOut(String session, String username) {
    }

    /** Quarkus OIDC tells of a sign-out through /logout, with the session's tokens still valid or not. */
    void observe(@Observes SecurityEvent event) {
        switch (event.getEventType()) {
            case OIDC_LOGOUT_RP_INITIATED -> {
                if (event.getSecurityIdentity() != null && event.getSecurityIdentity().getPrincipal() instanceof JsonWebToken token) {
                    end(token.getClaim("sid"), token.getName(), Instant.ofEpochSecond(token.getExpirationTime()));
                }
            }
            case OIDC_LOGOUT_RP_INITIATED_SESSION_EXPIRED -> {
                if (event.getEventProperties().get(SecurityEvent.SESSION_TOKENS_PROPERTY) instanceof AuthorizationCodeTokens tokens) {
                    JsonObject claims = claims(tokens.getIdToken());
                    end(claims.getString("sid"), claims.getString("preferred_username"), Instant.now());
                }
            }
            default -> {
            }
        }
    }

    /** Remembers the session as ended until {@code expires} (its tokens' expiry) and ends its consoles. */
    void end(String session, String username, Instant expires) {
        if (session == null) {
            return;
        }
        Instant now = Instant.now();
        ended.values().removeIf(until -> until.isBefore(now));
        ended.put(session, expires.plus(MARGIN));
        LOG.infof("%s signed out (session %s)", username, session);
        signedOut.fire(new SignedOut(session, username));
    }

    /** Whether a token of this sign-in session must be refused. */
    public boolean ended(String session) {
        Instant until = session == null ? null : ended.get(session);
        return until != null && until.isAfter(Instant.now());
    }

    /** The sign-in session a token belongs to, or null for an identity without one. */
    public static String sessionOf(SecurityIdentity identity) {
        if (identity == null) {
            return null;
        }
        // Read from the claims themselves: JsonWebToken.getClaim looks a name up among the standard claims
        // first and throws (and catches) an exception for every other name, on every request.
        if (identity.getPrincipal() instanceof OidcJwtCallerPrincipal oidc) {
            return oidc.getClaims().getClaimValue("sid") instanceof String sid ? sid : null;
        }
        return identity.getPrincipal() instanceof JsonWebToken token ? token.getClaim("sid") : null;
    }

    @Override
    public Uni<SecurityIdentity> augment(SecurityIdentity identity, AuthenticationRequestContext context) {
        if (!ended(sessionOf(identity))) {
            return Uni.createFrom().item(identity);
        }
        return Uni.createFrom().item(QuarkusSecurityIdentity.builder().setAnonymous(true).build());
    }

    private static JsonObject claims(String jwt) {
        String[] parts = jwt == null ? new String[0] : jwt.split("\\.");
        if (parts.length < 2) {
            return new JsonObject();
        }
        return new JsonObject(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8));
    }
}
