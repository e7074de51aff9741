package io.hypervise.server.policy;

import java.util.List;

/** A self-service request the user's policies do not allow: a 403 that lists every reason. */
public class PolicyDeniedException extends RuntimeException {

    private final transient List<String> reasons;

    public PolicyDeniedException(List<String> reasons) {
        super(String.join("; ", reasons));
        this.reasons = List.copyOf(reasons);
    }

    public List<String> reasons() {
        return reasons;
    }
}
