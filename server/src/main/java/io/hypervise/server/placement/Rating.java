package io.hypervise.server.placement;

import java.util.List;

/**
 * One host rated for one VM. {@code stars} go from 0 to 5 in tenths, as SCVMM's: a host that cannot take
 * the VM has 0 and {@code eligible} false, with every reason why; a host that can has the stars its
 * score earns under the goal (0 is possible: a perfect fit under balance leaves nothing free) and
 * reasons saying what the score came from.
 */
public record Rating(String hostId, String hostName, double stars, boolean eligible, List<String> reasons) {

    public Rating {
        reasons = List.copyOf(reasons);
    }
}
