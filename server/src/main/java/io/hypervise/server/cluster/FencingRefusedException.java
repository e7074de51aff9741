package io.hypervise.server.cluster;

import io.hypervise.server.api.RequestRefusedException;

/**
 * A host that cannot be declared gone: its lease is live, it left, or its epoch is no longer the one the decision
 * was taken on (it joined again, or someone else declared it gone first). A 409 saying which.
 */
public class FencingRefusedException extends RequestRefusedException {

    public FencingRefusedException(String detail) {
        super(409, detail);
    }
}
