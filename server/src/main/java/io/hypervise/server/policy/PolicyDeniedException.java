package io.hypervise.server.policy;

import io.hypervise.server.api.RequestRefusedException;
import java.util.List;
import java.util.Map;

/** A self-service request the user's policies do not allow: a 403 that lists every reason in {@code reasons}. */
public class PolicyDeniedException extends RequestRefusedException {

    private final transient List<String> reasons;

    public PolicyDeniedException(List<String> reasons) {
        super(403, String.join("; ", reasons));
        this.reasons = List.copyOf(reasons);
    }

    public List<String> reasons() {
        return reasons;
    }

    @Override
    public Map<String, ?> extensions() {
        return Map.of("reasons", reasons);
    }
}
