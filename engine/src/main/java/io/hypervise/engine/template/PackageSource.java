package io.hypervise.engine.template;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where a template's Debian packages come from: the host's apt for the host's own architecture
 * ({@link DebianPackages}), the Debian mirror itself for another ({@link DebianMirror}), so that the
 * host's apt configuration never has to change for a guest.
 */
interface PackageSource extends AutoCloseable {

    /** The version that would be fetched now; {@link StaleListsException} when the lists do not have it. */
    DebianPackages.Package candidate(String name) throws IOException;

    /** The package's .deb in the download cache, fetched and checked against the lists' SHA256 unless it is there. */
    Path download(DebianPackages.Package p) throws IOException;

    /** Fetches the package lists again: the cure for a {@link StaleListsException}. */
    void refresh() throws IOException;

    @Override
    default void close() {}

    /**
     * The source ran and refused (an unknown package, a file the mirror no longer has): fresher package
     * lists may cure it, unlike a missing apt or a failed signature.
     */
    final class StaleListsException extends IOException {
        StaleListsException(String message) {
            super(message);
        }
    }
}
