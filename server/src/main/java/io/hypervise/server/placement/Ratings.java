package io.hypervise.server.placement;

import java.util.List;

/**
 * Every host rated for one VM, best first, refused hosts last, each with its reasons; and the settings they
 * were rated under.
 *
 * @param vm      the VM's id when an existing VM was rated, else null; vmName its name
 * @param demand  what the VM needs, in words
 */
public record Ratings(String vm, String vmName, String demand, PlacementSettings settings, List<Rating> ratings) {
}
