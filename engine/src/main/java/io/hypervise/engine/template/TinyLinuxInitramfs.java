package io.hypervise.engine.template;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * The tiny-linux guest's whole root file system, written as a gzip'd newc cpio: busybox, the
 * /init script, and the kernel modules both device profiles need, in the order /init loads them.
 */
final class TinyLinuxInitramfs {

    /**
     * Modules /init loads; their dependencies are added from the modules' own metadata. Everything
     * else the guest uses is built into Debian's kernel: the 8250 serial port, the framebuffer
     * console, the i8042 controller and AT keyboard, devtmpfs, and ACPI CPU and memory hot-plug
     * (CONFIG_ACPI_HOTPLUG_CPU, CONFIG_ACPI_HOTPLUG_MEMORY; guest.sh brings what arrives online).
     * The screen needs a DRM driver in both profiles: a kernel started through PVH gets no VGA
     * text-mode information from a boot loader, so the kernel's VGA text console stays off.
     */
    static final List<String> MODULES = List.of(
            // enlightened profile (q35): virtio disks, NIC, keyboard and tablet, virtio-vga's driver, and
            // the balloon, through which the guest reports its memory use
            "virtio_pci", "virtio_blk", "virtio_net", "virtio_input", "virtio_gpu", "virtio_balloon",
            // q35's built-in AHCI controller, where the enlightened profile's CD-ROM drive sits (sr_mod below)
            "ahci",
            // legacy profile (pc): PIIX IDE disks and CD-ROMs, Intel e1000 NIC, standard VGA (bochs-drm)
            "ata_piix", "ata_generic", "sd_mod", "sr_mod", "e1000", "bochs",
            // the ACPI power button and the evdev node /init watches it through
            "button", "evdev");

    private static final String RESOURCES = "/io/hypervise/engine/storage/tiny-linux/";
    static final List<String> GUEST_FILES = List.of("init", "guest.sh", "profile");

    private TinyLinuxInitramfs() {}

    static void write(Path target, Path busybox, List<KernelModules.Module> modules) throws IOException {
        try (OutputStream file = Files.newOutputStream(target);
                OutputStream gzip = new BestGzipOutputStream(new BufferedOutputStream(file, 1 << 16));
                CpioWriter cpio = new CpioWriter(gzip)) {
            for (String dir : List.of("bin", "dev", "etc", "lib", "lib/hypervise", "lib/modules", "proc", "root", "sys", "tmp")) {
                cpio.directory(dir, dir.equals("tmp") ? 01777 : dir.equals("root") ? 0700 : 0755);
            }
            // The kernel opens /dev/console for /init before /init can mount devtmpfs.
            cpio.characterDevice("dev/console", 0600, 5, 1);
            cpio.file("bin/busybox", 0755, busybox);
            // /init's "#!/bin/sh" must resolve before it installs busybox's other applet links.
            cpio.symlink("bin/sh", "busybox");
            cpio.file("init", 0755, guestFile("init"));
            cpio.file("lib/hypervise/guest.sh", 0755, guestFile("guest.sh"));
            cpio.file("etc/profile", 0644, guestFile("profile"));
            StringBuilder loadOrder = new StringBuilder();
            for (KernelModules.Module module : modules) {
                cpio.file("lib/modules/" + module.name() + ".ko", 0644, module.content());
                loadOrder.append(module.name()).append('\n');
            }
            cpio.file("lib/modules/load-order", 0644, loadOrder.toString().getBytes(StandardCharsets.US_ASCII));
        }
    }

    /** A guest-side file shipped in the engine's resources. */
    static byte[] guestFile(String name) {
        try (InputStream in = TinyLinuxInitramfs.class.getResourceAsStream(RESOURCES + name)) {
            if (in == null) {
                throw new IllegalStateException("engine resource " + RESOURCES + name + " is missing from the build");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read engine resource " + RESOURCES + name, e);
        }
    }

    /** Smaller initramfs, faster QEMU start; Java's gzip header has mtime 0, so output is reproducible. */
    private static final class BestGzipOutputStream extends GZIPOutputStream {
        BestGzipOutputStream(OutputStream out) throws IOException {
            super(out, 1 << 16);
            def.setLevel(Deflater.BEST_COMPRESSION);
        }
    }
}
