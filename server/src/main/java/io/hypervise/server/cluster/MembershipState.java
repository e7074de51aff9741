package io.hypervise.server.cluster;

/** This server's own view of its host's membership. */
public enum MembershipState {
    /** Not joined yet (the server is starting). */
    NOT_JOINED,
    /** The last renewal succeeded. */
    LIVE,
    /** The last renewal failed (the database did not answer); it is retried at the next tick. */
    RENEW_FAILING,
    /** The epoch changed under this host: it is no longer a member until it joins again (a restart). */
    LOST
}
