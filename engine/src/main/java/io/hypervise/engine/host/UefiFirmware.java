package io.hypervise.engine.host;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * The host's UEFI firmware for VMs (OVMF, Debian package {@code ovmf}): the code, which every UEFI VM
 * runs read-only, and the template of the variable store, of which each VM gets a copy of its own,
 * since OVMF writes its boot entries and settings there.
 */
public record UefiFirmware(Path code, Path variablesTemplate) {

    /** Where Debian's ovmf installs its images. */
    public static final Path DEBIAN_DIR = Path.of("/usr/share/OVMF");

    /**
     * Code and variables come in pairs of one size: the 4 MiB build Debian 12 recommends, else the older
     * 2 MiB one. The secure-boot builds are not used: they need SMM, which the legacy machine lacks.
     */
    private static final List<List<String>> PAIRS = List.of(
            List.of("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"),
            List.of("OVMF_CODE.fd", "OVMF_VARS.fd"));

    /** The first complete pair in {@code dir}, if any. */
    public static Optional<UefiFirmware> find(Path dir) {
        for (List<String> pair : PAIRS) {
            Path code = dir.resolve(pair.get(0));
            Path vars = dir.resolve(pair.get(1));
            if (readable(code) && readable(vars)) {
                return Optional.of(new UefiFirmware(code, vars));
            }
        }
        return Optional.empty();
    }

    /** Writes a fresh copy of the variables template to {@code file}: all of it, or nothing. */
    public void copyVariablesTo(Path file) throws IOException {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        Files.copy(variablesTemplate, partial, StandardCopyOption.REPLACE_EXISTING);
        try {
            Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(partial, file);
        }
    }

    private static boolean readable(Path file) {
        return Files.isRegularFile(file) && Files.isReadable(file);
    }
}
