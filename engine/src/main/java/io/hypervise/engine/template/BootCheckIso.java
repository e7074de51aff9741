package io.hypervise.engine.template;

import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.vm.definition.Firmware;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A 4 MB ISO that proves a VM boots from an ISO, and with which firmware: GRUB, on one hybrid image
 * for BIOS (El Torito) and UEFI (an EFI system partition), prints {@link #marker(Firmware)} on the
 * serial console and the screen, then waits until the VM is turned off. Built once with
 * {@code grub-mkrescue} into a cache folder and reused; about 0.3 s to build.
 */
public final class BootCheckIso {

    public static final String MARKER = "HYPERVISE-ISO-BOOTED";

    /** What grub-mkrescue needs (Debian 12): without either boot image's package it silently leaves that firmware out. */
    public static final List<String> DEBIAN_PACKAGES = List.of("grub-common", "grub-pc-bin", "grub-efi-amd64-bin",
            "xorriso", "mtools");

    /** GRUB's boot images per firmware; grub-mkrescue adds a firmware's only when its folder is there. */
    private static final Path GRUB_LIB = Path.of("/usr/lib/grub");
    private static final List<String> PLATFORMS = List.of("i386-pc", "x86_64-efi");

    /** $grub_platform is "pc" under BIOS and "efi" under UEFI; the echo reaches both terminals. */
    static final String GRUB_CFG = """
            serial --unit=0 --speed=115200
            terminal_output serial console
            echo "%s firmware=$grub_platform"
            while true; do sleep 3600; done
            """.formatted(MARKER);

    /** Only what grub.cfg uses; no fonts, themes or translations: a 4 MB image instead of 20. */
    private static final List<String> MKRESCUE_OPTIONS = List.of("--install-modules=normal serial echo sleep test",
            "--fonts=", "--locales=", "--themes=");
    private static final String VOLUME_ID = "HV_BOOT_CHECK";
    private static final long BUILD_TIMEOUT_SECONDS = 120;

    private BootCheckIso() {}

    /** The line the ISO prints when it booted with this firmware. */
    public static String marker(Firmware firmware) {
        return MARKER + " firmware=" + switch (firmware) {
            case BIOS -> "pc";
            case UEFI -> "efi";
        };
    }

    /**
     * The ISO in {@code cacheDir}, built first if this recipe has not been built there. Its name carries
     * the recipe's hash, so a changed grub.cfg builds a new one; a build appears under its name complete
     * or not at all.
     */
    public static Path ensure(Path cacheDir) throws IOException {
        Path cache = Files.createDirectories(cacheDir.toAbsolutePath().normalize());
        Path iso = cache.resolve("boot-check-" + recipe().substring(0, 12) + ".iso");
        if (Files.isRegularFile(iso)) {
            return iso;
        }
        Path work = Files.createTempDirectory(cache, ".boot-check-build-");
        try {
            Path built = build(work);
            try {
                Files.move(built, iso, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(built, iso, StandardCopyOption.REPLACE_EXISTING);
            }
            return iso;
        } finally {
            FileTrees.delete(work);
        }
    }

    private static Path build(Path work) throws IOException {
        for (String platform : PLATFORMS) {
            if (!Files.isDirectory(GRUB_LIB.resolve(platform))) {
                throw new IOException("GRUB's " + platform + " boot image is missing (" + GRUB_LIB.resolve(platform)
                        + "); install the Debian packages " + String.join(" ", DEBIAN_PACKAGES));
            }
        }
        Path root = Files.createDirectories(work.resolve("root/boot/grub"));
        Files.writeString(root.resolve("grub.cfg"), GRUB_CFG, StandardCharsets.US_ASCII);
        Path iso = work.resolve("boot-check.iso");
        List<String> argv = new ArrayList<>(List.of("grub-mkrescue", "--output=" + iso));
        argv.addAll(MKRESCUE_OPTIONS);
        argv.addAll(List.of(work.resolve("root").toString(), "--", "-volid", VOLUME_ID));
        run(argv, work.resolve("grub-mkrescue.log"));
        if (!Files.isRegularFile(iso)) {
            throw new IOException("grub-mkrescue reported success but wrote no " + iso);
        }
        return iso;
    }

    private static void run(List<String> argv, Path log) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new IOException("cannot run grub-mkrescue (" + e.getMessage() + "); install the Debian packages "
                    + String.join(" ", DEBIAN_PACKAGES), e);
        }
        p.getOutputStream().close();
        try {
            if (!p.waitFor(BUILD_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("grub-mkrescue did not finish within " + BUILD_TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while building the boot-check ISO", e);
        }
        if (p.exitValue() != 0) {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            throw new IOException("grub-mkrescue failed with exit code " + p.exitValue() + ": "
                    + String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size())));
        }
    }

    /** Identifies what goes into the ISO besides GRUB itself. */
    static String recipe() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(("boot-check recipe 1\n" + GRUB_CFG + MKRESCUE_OPTIONS + VOLUME_ID)
                    .getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
