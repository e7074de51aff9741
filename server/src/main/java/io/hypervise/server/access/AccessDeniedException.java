package io.hypervise.server.access;

import io.hypervise.server.api.RequestRefusedException;

/** A caller whose roles do not reach what they asked for: a 403 naming the role they lack. */
public class AccessDeniedException extends RequestRefusedException {

    public AccessDeniedException(String reason) {
        super(403, reason);
    }
}
