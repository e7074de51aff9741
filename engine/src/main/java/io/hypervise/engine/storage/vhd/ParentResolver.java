package io.hypervise.engine.storage.vhd;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the file that holds a differencing disk's parent. The only way an import reaches a parent: the
 * names in a VHD's header are the uploader's words and are never opened as paths, or a disk could read
 * any file on the host. An implementation looks the names up among files the caller may read (say, the
 * user's uploads), and the import then checks that the file's unique id is the one the child names.
 */
@FunctionalInterface
public interface ParentResolver {

    /** Knows no parents: an import of a differencing disk fails, naming the parent it needs. */
    ParentResolver NONE = parent -> Optional.empty();

    Optional<Path> resolve(VhdParent parent);
}
