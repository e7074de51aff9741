package io.hypervise.engine.template;

import io.hypervise.engine.storage.FileTrees;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The debian-12 guest's root file system as a directory tree: Debian's minbase by debootstrap plus a
 * kernel, GRUB's modules, systemd, udev and OpenSSH, then configured to boot from a disk whose
 * filesystem UUIDs are known, on the serial console, applying a NoCloud seed at first boot. Package
 * scripts and the tools GRUB and the initramfs need run inside it with chroot, so the host needs no GRUB.
 */
final class DebianRootFs {

    static final String SUITE = "bookworm";
    static final String MIRROR = "http://deb.debian.org/debian";
    /**
     * On top of minbase. No grub-pc or grub-efi-amd64: their scripts would install GRUB on a device of
     * the host; the -bin packages carry the modules and grub-mkimage. dbus is named because debootstrap
     * does not resolve the virtual package default-dbus-system-bus that systemd-resolved needs.
     */
    static final List<String> PACKAGES = List.of("linux-image-amd64", "grub-pc-bin", "grub-efi-amd64-bin", "grub2-common",
            "systemd-sysv", "udev", "dbus", "openssh-server", "systemd-resolved", "sudo", "iproute2");
    /** What the initramfs loads to find the root disk: virtio (enlightened) and IDE/AHCI (legacy) controllers. */
    static final List<String> INITRAMFS_MODULES = List.of("virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "ata_piix",
            "ahci", "ext4");
    /** The guest's own files (resources under storage/debian-12): first-boot seed, SSH host keys, DHCP. */
    static final List<String> GUEST_FILES = List.of("hypervise-seed", "hypervise-seed.service", "ssh-host-keys.service",
            "dhcp.network");

    private static final String RESOURCES = "/io/hypervise/engine/storage/debian-12/";
    private static final Duration DEBOOTSTRAP_TIMEOUT = Duration.ofMinutes(60);
    private static final Duration CHROOT_TIMEOUT = Duration.ofMinutes(10);

    private final Path root;
    private final HostTools tools;
    private final Consumer<String> progress;

    DebianRootFs(Path root, HostTools tools, Consumer<String> progress) {
        this.root = root;
        this.tools = tools;
        this.progress = progress;
    }

    /** debootstrap into the (absent or empty) root; its .debs are kept in {@code packageCache} for the next build. */
    void bootstrap(Path packageCache) throws IOException {
        Files.createDirectories(packageCache);
        progress.accept("debootstrap " + SUITE + " (minbase + " + String.join(", ", PACKAGES) + ") from " + MIRROR
                + "; packages cached in " + packageCache);
        tools.run(DEBOOTSTRAP_TIMEOUT, List.of("debootstrap", "--variant=minbase", "--cache-dir=" + packageCache,
                "--include=" + String.join(",", PACKAGES), SUITE, root.toString(), MIRROR));
    }

    String kernelVersion() throws IOException {
        try (DirectoryStream<Path> kernels = Files.newDirectoryStream(root.resolve("boot"), "vmlinuz-*")) {
            for (Path kernel : kernels) {
                return kernel.getFileName().toString().substring("vmlinuz-".length());
            }
        }
        throw new IOException("debootstrap installed no kernel: " + root.resolve("boot") + " has no vmlinuz-*");
    }

    /**
     * Makes the tree boot from the disk {@link BootDiskImage} lays out: fstab and GRUB name the
     * filesystems by UUID; the kernel logs to the serial port, which is also /dev/console (the last
     * console= wins) so systemd's messages and the login prompt appear there.
     */
    void configure(String rootUuid, String espVolumeId, String commandLine) throws IOException {
        String kernelVersion = kernelVersion();
        write("etc/hostname", "debian\n");
        write("etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                + "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        write("etc/fstab", "UUID=" + rootUuid + "\t/\text4\terrors=remount-ro\t0\t1\n"
                + "UUID=" + espVolumeId + "\t/boot/efi\tvfat\tumask=0077,nofail\t0\t2\n");
        Files.createDirectories(root.resolve("boot/efi"));
        write("etc/apt/sources.list", "deb " + MIRROR + " " + SUITE + " main\n"
                + "deb " + MIRROR + " " + SUITE + "-updates main\n"
                + "deb http://deb.debian.org/debian-security " + SUITE + "-security main\n");
        // A template without documentation and translations, now and after the guest's own installs.
        write("etc/dpkg/dpkg.cfg.d/hypervise-nodoc", "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
                + "path-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n"
                + "path-include /usr/share/locale/locale.alias\n");
        removeDocumentation();

        // The initramfs only needs to find the root disk: a list of modules instead of "most", 7 MB instead of 36.
        write("etc/initramfs-tools/conf.d/hypervise.conf", "MODULES=list\nCOMPRESS=gzip\n");
        append("etc/initramfs-tools/modules", String.join("\n", INITRAMFS_MODULES) + "\n");
        // networkd looks up nl80211, which makes the kernel load cfg80211 (seconds under emulation) for no Wi-Fi.
        write("etc/modprobe.d/hypervise.conf", "blacklist cfg80211\n");
        chroot("update-initramfs", "-u", "-k", kernelVersion);

        configureGrub(rootUuid, kernelVersion, commandLine);
        installGuestFiles();
        chroot("systemctl", "enable", "hypervise-seed.service", "ssh-host-keys.service", "systemd-networkd.service");
        // e2scrub_reap looks for LVM snapshots at every boot; a VM has none.
        chroot("systemctl", "mask", "e2scrub_reap.service");
        makeAnonymous();
    }

    /**
     * GRUB's modules under /boot/grub and a grub.cfg that boots the installed kernel; /etc/default/grub
     * says the same, so update-grub in the running guest (after a kernel upgrade) writes an equivalent one.
     */
    private void configureGrub(String rootUuid, String kernelVersion, String commandLine) throws IOException {
        write("etc/default/grub", "GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR=Debian\n"
                + "GRUB_CMDLINE_LINUX_DEFAULT=\"\"\nGRUB_CMDLINE_LINUX=\"" + commandLine + "\"\n"
                + "GRUB_TERMINAL=\"serial console\"\nGRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n");
        for (String platform : List.of("i386-pc", "x86_64-efi")) {
            copyTree(root.resolve("usr/lib/grub/" + platform), root.resolve("boot/grub/" + platform));
        }
        write("boot/grub/grub.cfg", """
                set timeout=0
                serial --unit=0 --speed=115200
                terminal_input serial console
                terminal_output serial console
                insmod part_gpt
                insmod ext2
                search --no-floppy --fs-uuid --set=root %1$s
                menuentry 'Debian GNU/Linux 12' {
                \tlinux /boot/vmlinuz-%2$s root=UUID=%1$s ro %3$s
                \tinitrd /boot/initrd.img-%2$s
                }
                """.formatted(rootUuid, kernelVersion, commandLine));
    }

    /**
     * GRUB's first stage for BIOS (core.img) and UEFI (BOOTX64.EFI), each finding the root filesystem
     * by UUID and reading grub.cfg and its modules from /boot/grub there. Written into {@code out}.
     */
    GrubImages makeGrubImages(String rootUuid, Path out) throws IOException {
        write("tmp/hypervise-grub-early.cfg", "search --no-floppy --fs-uuid --set=root " + rootUuid
                + "\nset prefix=($root)/boot/grub\n");
        try {
            chroot("grub-mkimage", "-O", "i386-pc", "-o", "/tmp/hypervise-core.img", "-c", "/tmp/hypervise-grub-early.cfg",
                    "-p", "/boot/grub", "biosdisk", "part_gpt", "ext2", "search", "search_fs_uuid");
            chroot("grub-mkimage", "-O", "x86_64-efi", "-o", "/tmp/hypervise-BOOTX64.EFI", "-c",
                    "/tmp/hypervise-grub-early.cfg", "-p", "/boot/grub", "part_gpt", "ext2", "fat", "search", "search_fs_uuid");
            Files.createDirectories(out);
            GrubImages images = new GrubImages(root.resolve("usr/lib/grub/i386-pc/boot.img"), out.resolve("core.img"),
                    out.resolve("BOOTX64.EFI"));
            Files.move(root.resolve("tmp/hypervise-core.img"), images.core());
            Files.move(root.resolve("tmp/hypervise-BOOTX64.EFI"), images.efi());
            return images;
        } finally {
            Files.deleteIfExists(root.resolve("tmp/hypervise-grub-early.cfg"));
        }
    }

    record GrubImages(Path bootImg, Path core, Path efi) {}

    private void installGuestFiles() throws IOException {
        Path script = root.resolve("usr/lib/hypervise/hypervise-seed");
        Files.createDirectories(script.getParent());
        Files.write(script, guestFile("hypervise-seed"));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (String unit : List.of("hypervise-seed.service", "ssh-host-keys.service")) {
            Files.write(root.resolve("etc/systemd/system/" + unit), guestFile(unit));
        }
        Files.write(root.resolve("etc/systemd/network/80-dhcp.network"), guestFile("dhcp.network"));
    }

    /**
     * Removes what must differ between machines or be fresh in each: SSH host keys (made at first boot),
     * the machine id (systemd makes one at first boot when the file is empty), package lists and caches.
     */
    private void makeAnonymous() throws IOException {
        try (DirectoryStream<Path> keys = Files.newDirectoryStream(root.resolve("etc/ssh"), "ssh_host_*")) {
            for (Path key : keys) {
                Files.delete(key);
            }
        }
        Files.writeString(root.resolve("etc/machine-id"), "");
        Files.deleteIfExists(root.resolve("var/lib/dbus/machine-id"));
        chroot("apt-get", "clean");
        deleteContents(root.resolve("var/lib/apt/lists"));
        deleteContents(root.resolve("debootstrap"));
        Files.deleteIfExists(root.resolve("debootstrap"));
    }

    private void removeDocumentation() throws IOException {
        deleteContents(root.resolve("usr/share/man"));
        deleteContents(root.resolve("usr/share/info"));
        try (Stream<Path> locales = Files.list(root.resolve("usr/share/locale"))) {
            for (Path p : locales.toList()) {
                if (!p.getFileName().toString().equals("locale.alias")) {
                    deleteTree(p);
                }
            }
        }
        try (Stream<Path> docs = Files.list(root.resolve("usr/share/doc"))) {
            for (Path doc : docs.toList()) {
                if (Files.isDirectory(doc, LinkOption.NOFOLLOW_LINKS)) {
                    try (Stream<Path> files = Files.list(doc)) {
                        for (Path f : files.toList()) {
                            if (!f.getFileName().toString().equals("copyright")) {
                                deleteTree(f);
                            }
                        }
                    }
                }
            }
        }
    }

    private void chroot(String... command) throws IOException {
        List<String> args = new ArrayList<>(List.of("chroot", root.toString()));
        args.addAll(List.of(command));
        tools.run(CHROOT_TIMEOUT, args);
    }

    private void write(String path, String text) throws IOException {
        Path file = root.resolve(path);
        Files.createDirectories(file.getParent());
        Files.deleteIfExists(file); // never write through a link the packages left there
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    private void append(String path, String text) throws IOException {
        Files.writeString(root.resolve(path), text, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target, LinkOption.NOFOLLOW_LINKS);
                }
            }
        }
    }

    private static void deleteContents(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> children = Files.list(dir)) {
            for (Path child : children.toList()) {
                deleteTree(child);
            }
        }
    }

    private static void deleteTree(Path p) throws IOException {
        FileTrees.delete(p);
    }

    static byte[] guestFile(String name) {
        try (InputStream in = DebianRootFs.class.getResourceAsStream(RESOURCES + name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCES + name + " is missing from the engine's jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read resource " + RESOURCES + name, e);
        }
    }
}
