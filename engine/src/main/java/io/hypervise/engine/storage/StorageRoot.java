package io.hypervise.engine.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The one folder under which every image a VM opens must lie. Paths are checked after symbolic links
 * are resolved, so neither {@code ..} nor a link can lead a VM to a host file outside it.
 */
public final class StorageRoot {

    private final Path root;

    public StorageRoot(Path root) throws IOException {
        Files.createDirectories(root);
        this.root = root.toRealPath();
    }

    public Path path() {
        return root;
    }

    /** The library of templates, disks and ISOs that VMs are deployed from. */
    public Path library() {
        return root.resolve("library");
    }

    /**
     * Why {@code candidate} may not be opened, or empty when it is an existing regular file inside the
     * root. Relative paths are taken relative to the root.
     */
    public Optional<String> problemWith(Path candidate) {
        Path absolute = root.resolve(candidate).normalize();
        if (!absolute.startsWith(root)) {
            return Optional.of("must be inside the storage root " + root);
        }
        if (!Files.exists(absolute)) {
            return Optional.of("no such file: " + absolute);
        }
        try {
            Path real = absolute.toRealPath();
            if (!real.startsWith(root)) {
                return Optional.of("resolves (through a symbolic link) outside the storage root " + root);
            }
            if (!Files.isRegularFile(real)) {
                return Optional.of("is not a regular file: " + absolute);
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("cannot be read: " + e.getMessage());
        }
    }

    /** The absolute, link-free form of a path that {@link #problemWith} accepted. */
    public Path resolve(Path accepted) throws IOException {
        return root.resolve(accepted).normalize().toRealPath();
    }
}
