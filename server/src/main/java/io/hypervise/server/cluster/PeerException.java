package io.hypervise.server.cluster;

import io.hypervise.server.api.RequestRefusedException;
import java.util.Locale;
import java.util.Map;

/**
 * A call to another host's server that did not carry out what was asked: the problem names the host and what
 * failed ({@code host}, {@code failure}). A peer's own refusal keeps the peer's status and reason; a peer that
 * cannot be reached is a 503, one that does not answer in time a 504.
 */
public class PeerException extends RequestRefusedException {

    /** What failed, and the status the answering server gives its caller for it. */
    public enum Failure {
        /** The host's lease is not live (its server stopped, or cannot reach the database), or it left the cluster. */
        NOT_LIVE(503),
        /** The host's server could not be connected to (refused, no route, name unknown). */
        UNREACHABLE(503),
        /** The host's server did not connect or answer within its deadline: whether it acted is unknown. */
        TIMED_OUT(504),
        /** This server got no service token from Keycloak, so it could not ask. */
        NO_SERVICE_TOKEN(503),
        /** The host's server refused this server's service identity (a wrong secret, or a client without the role). */
        IDENTITY_REFUSED(502),
        /** The host's server refused the request (4xx): its status and reason are passed on. */
        REFUSED(0),
        /** The host's server failed (5xx) or answered something this server cannot read. */
        FAILED(502);

        private final int status;

        Failure(int status) {
            this.status = status;
        }
    }

    private final String host;
    private final Failure failure;

    public PeerException(String host, Failure failure, String detail) {
        this(host, failure, failure.status, detail);
    }

    /** A refusal from the peer, answered with the peer's own status. */
    public static PeerException refused(String host, int status, String detail) {
        return new PeerException(host, Failure.REFUSED, status, detail);
    }

    private PeerException(String host, Failure failure, int status, String detail) {
        super(status, detail);
        this.host = host;
        this.failure = failure;
    }

    public String host() {
        return host;
    }

    public Failure failure() {
        return failure;
    }

    @Override
    public Map<String, ?> extensions() {
        return Map.of("host", host, "failure", failure.name().toLowerCase(Locale.ROOT).replace('_', '-'));
    }
}
