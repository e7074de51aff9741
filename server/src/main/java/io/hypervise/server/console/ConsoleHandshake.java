package io.hypervise.server.console;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.hypervise.server.access.SignedOutSessions;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.websockets.next.HttpUpgradeCheck;
import io.quarkus.websockets.next.UserData;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.core.http.HttpServerRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Authorises a console at the HTTP upgrade, so a refused viewer gets a status (401, 403, 404, 409)
 * and no WebSocket ever opens. The browser's session cookie says who it is (the pages' OIDC tenant);
 * a browser on another site's page is refused, since it would send that cookie too.
 */
@ApplicationScoped
public class ConsoleHandshake implements HttpUpgradeCheck {

    static final UserData.TypedKey<ConsoleGrant> GRANT = new UserData.TypedKey<>("hypervise.console.grant");
    /** The sign-in session (Keycloak's {@code sid}) the console was opened in: it ends when that is signed out. */
    static final UserData.TypedKey<String> SIGN_IN = new UserData.TypedKey<>("hypervise.console.sign-in");

    private static final Logger LOG = Logger.getLogger(ConsoleHandshake.class);

    @Inject
    ConsoleAuthorizer authorizer;

    @Override
    public boolean appliesTo(String endpointId) {
        return endpointId.equals(ConsoleEndpoint.class.getName());
    }

    @Override
    public Uni<CheckResult> perform(HttpUpgradeContext context) {
        HttpServerRequest request = context.httpRequest();
        String address = request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
        String vmId = context.pathParam("id");
        boolean viewOnly = "true".equals(request.getParam("view-only"));
        if (!sameOrigin(request.getHeader("Origin"), request.scheme(), request.getHeader("Host"))) {
            LOG.infof("console of %s refused: WebSocket from origin %s to %s", vmId, request.getHeader("Origin"),
                    request.authority());
            return CheckResult.rejectUpgrade(403);
        }
        return context.securityIdentity()
                .onFailure().recoverWithNull()
                .emitOn(Infrastructure.getDefaultWorkerPool()) // the database is asked; not on the event loop
                .map(identity -> check(context, identity, address, vmId, viewOnly));
    }

    private CheckResult check(HttpUpgradeContext context, SecurityIdentity identity, String address, String vmId,
            boolean viewOnly) {
        Caller caller = CurrentCaller.of(identity, address);
        try {
            ConsoleGrant grant = authorizer.authorize(caller, vmId, viewOnly);
            context.userData().put(GRANT, grant);
            String session = SignedOutSessions.sessionOf(identity);
            if (session != null) {
                context.userData().put(SIGN_IN, session);
            }
            return CheckResult.permitUpgradeSync();
        } catch (ConsoleRefusal refusal) {
            LOG.infof("console of %s refused to %s (%d): %s", vmId, caller.username(), refusal.status(), refusal.getMessage());
            return CheckResult.rejectUpgradeSync(refusal.status(),
                    Map.of("X-Hypervise-Reason", List.of(refusal.getMessage().replaceAll("[\\r\\n]", " "))));
        }
    }

    /**
     * Browsers always send Origin on a WebSocket; it must be this server's own (RFC 6454: the same
     * scheme, host and port; an absent port is the scheme's default), or absent: not a browser.
     *
     * @param scheme the scheme this request came in with ({@code http} or {@code https})
     * @param host the request's Host header
     */
    static boolean sameOrigin(String origin, String scheme, String host) {
        if (origin == null) {
            return true;
        }
        if (host == null) {
            return false;
        }
        try {
            URI ours = new URI(scheme + "://" + host);
            URI theirs = new URI(origin);
            return theirs.getScheme() != null && theirs.getScheme().equalsIgnoreCase(ours.getScheme())
                    && theirs.getRawUserInfo() == null && theirs.getRawPath().isEmpty() && theirs.getRawQuery() == null
                    && theirs.getHost() != null && theirs.getHost().equalsIgnoreCase(ours.getHost())
                    && port(theirs) == port(ours) && port(ours) > 0;
        } catch (URISyntaxException malformed) {
            return false;
        }
    }

    private static int port(URI uri) {
        if (uri.getPort() != -1) {
            return uri.getPort();
        }
        return switch (uri.getScheme().toLowerCase(Locale.ROOT)) {
            case "http" -> 80;
            case "https" -> 443;
            default -> -1;
        };
    }
}
