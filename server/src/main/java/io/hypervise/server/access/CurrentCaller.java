package io.hypervise.server.access;

import io.quarkus.security.identity.SecurityIdentity;
import io.vertx.core.http.HttpServerRequest;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import java.util.HashSet;
import java.util.Set;
import org.eclipse.microprofile.jwt.JsonWebToken;

/** The request's {@link Caller}, from the token Keycloak issued. */
@RequestScoped
public class CurrentCaller {

    @Inject
    SecurityIdentity identity;

    @Inject
    JsonWebToken token;

    @Inject
    HttpServerRequest request;

    private Caller caller;

    /** The caller of the current request, worked out once per request. */
    public Caller get() {
        if (caller == null) {
            caller = build();
        }
        return caller;
    }

    private Caller build() {
        if (identity.isAnonymous()) {
            return new Caller(Caller.ANONYMOUS, Set.of(), Set.of(), address());
        }
        String username = token.getClaimNames() != null && token.containsClaim("preferred_username")
                ? token.getClaim("preferred_username")
                : identity.getPrincipal().getName();
        Set<String> groups = token.getGroups() == null ? Set.of() : new HashSet<>(token.getGroups());
        return Caller.of(username, identity.getRoles(), groups, address());
    }

    /**
     * The caller an identity stands for, where there is no request scope (the console's handshake):
     * the name from the ID token, the roles from the access token (quarkus.oidc.roles.source).
     */
    public static Caller of(SecurityIdentity identity, String address) {
        if (identity == null || identity.isAnonymous()) {
            return new Caller(Caller.ANONYMOUS, Set.of(), Set.of(), address);
        }
        String username = identity.getPrincipal().getName();
        Set<String> groups = Set.of();
        if (identity.getPrincipal() instanceof JsonWebToken token) {
            if (token.getClaimNames() != null && token.containsClaim("preferred_username")) {
                username = token.getClaim("preferred_username");
            }
            groups = token.getGroups() == null ? Set.of() : new HashSet<>(token.getGroups());
        }
        return Caller.of(username, identity.getRoles(), groups, address);
    }

    private String address() {
        return request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
    }
}
