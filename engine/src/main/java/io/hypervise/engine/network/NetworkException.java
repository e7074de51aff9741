package io.hypervise.engine.network;

import io.hypervise.engine.EngineException;
/**
 * A virtual switch operation that could not be done, and why, written for the person who has to act.
 * The {@link Reason} tells a caller which kind of answer it is without parsing the message.
 */
public final class NetworkException extends EngineException {

    public enum Reason {
        /** The switch or port is not there. */
        NOT_FOUND,
        /** The switch is still in use: VMs are plugged into it. */
        IN_USE,
        /** The request broke a rule (an id, an address). */
        INVALID,
        /** This host cannot run virtual switches (no /dev/net/tun, no CAP_NET_ADMIN, no iproute2). */
        UNAVAILABLE,
        /** The host refused a change it should have accepted; the message carries iproute2's words. */
        FAILED
    }

    private final Reason reason;

    public NetworkException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public NetworkException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
