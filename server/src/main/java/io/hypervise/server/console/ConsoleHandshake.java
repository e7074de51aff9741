package io.hypervise.server.console;

import io.hypervise.server.access.Caller;
import io.hypervise.server.access.CurrentCaller;
import io.quarkus.websockets.next.HttpUpgradeCheck;
import io.quarkus.websockets.next.UserData;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.vertx.core.http.HttpServerRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.net.URI;
import java.util.List;
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
        if (!sameOrigin(request)) {
            LOG.infof("console of %s refused: WebSocket from origin %s to %s", vmId, request.getHeader("Origin"),
                    request.authority());
            return CheckResult.rejectUpgrade(403);
        }
        return context.securityIdentity()
                .onFailure().recoverWithNull()
                .map(identity -> CurrentCaller.of(identity, address))
                .emitOn(Infrastructure.getDefaultWorkerPool()) // the database is asked; not on the event loop
                .map(caller -> check(context, caller, vmId, viewOnly));
    }

    private CheckResult check(HttpUpgradeContext context, Caller caller, String vmId, boolean viewOnly) {
        try {
            ConsoleGrant grant = authorizer.authorize(caller, vmId, viewOnly);
            context.userData().put(GRANT, grant);
            return CheckResult.permitUpgradeSync();
        } catch (ConsoleRefusal refusal) {
            LOG.infof("console of %s refused to %s (%d): %s", vmId, caller.username(), refusal.status(), refusal.getMessage());
            return CheckResult.rejectUpgradeSync(refusal.status(),
                    Map.of("X-Hypervise-Reason", List.of(refusal.getMessage().replaceAll("[\\r\\n]", " "))));
        }
    }

    /** Browsers always send Origin on a WebSocket; it must be this server (or absent: not a browser). */
    static boolean sameOrigin(HttpServerRequest request) {
        String origin = request.getHeader("Origin");
        if (origin == null) {
            return true;
        }
        try {
            URI uri = URI.create(origin);
            String host = request.getHeader("Host");
            return host != null && uri.getAuthority() != null && uri.getAuthority().equalsIgnoreCase(host);
        } catch (IllegalArgumentException malformed) {
            return false;
        }
    }
}
