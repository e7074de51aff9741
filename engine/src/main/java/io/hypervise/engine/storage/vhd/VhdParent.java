package io.hypervise.engine.storage.vhd;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The parent a differencing disk names in its dynamic header: the parent's unique id (which the parent's
 * footer must carry), its modification time, its file name, and where the tool that made the child
 * found it.
 *
 * @param name the parent's file name from the header's "parent unicode name", possibly empty
 */
public record VhdParent(UUID uniqueId, Instant timestamp, String name, List<ParentLocator> locators) {

    public VhdParent {
        locators = List.copyOf(locators);
    }

    /** Every name the child gives its parent: the unicode name first, then each locator's path. */
    public List<String> names() {
        return Stream.concat(Stream.of(name), locators.stream().map(ParentLocator::path)).filter(n -> !n.isEmpty()).distinct().toList();
    }
}
