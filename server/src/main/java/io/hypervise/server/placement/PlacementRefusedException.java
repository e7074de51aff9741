package io.hypervise.server.placement;

import io.hypervise.server.api.RequestRefusedException;
import java.util.List;
import java.util.Map;

/**
 * The host asked to take a VM is rated unsuitable for it (in maintenance, out of memory, outside the host groups
 * the caller's policy allows, …): a 409 that lists placement's every reason in {@code reasons}.
 */
public class PlacementRefusedException extends RequestRefusedException {

    private final transient List<String> reasons;
    private final String host;

    public PlacementRefusedException(String host, List<String> reasons) {
        super(409, "host '" + host + "' cannot take this VM: " + String.join("; ", reasons));
        this.host = host;
        this.reasons = List.copyOf(reasons);
    }

    public List<String> reasons() {
        return reasons;
    }

    @Override
    public Map<String, ?> extensions() {
        return Map.of("host", host, "reasons", reasons);
    }
}
