package io.hypervise.engine.template;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Lays a root directory tree out as a disk that boots through BIOS and UEFI firmware alike, on an image
 * file, without loop devices or mounts: a GPT (sfdisk) with a BIOS boot partition holding GRUB's
 * core.img, an EFI system partition holding GRUB as the removable-media loader EFI/BOOT/BOOTX64.EFI
 * (no NVRAM entry needed; mtools writes the FAT), and the ext4 root last, so it can grow into a
 * resized disk (mke2fs -d copies the tree in). The raw image is then compressed into a qcow2.
 */
final class BootDiskImage {

    static final long SECTOR = 512;
    static final long MIB_SECTORS = (1 << 20) / SECTOR;
    /** Below 1.5 GiB; the root holds about 650 MB when built. */
    static final long DISK_MIB = 1440;
    static final long BIOS_BOOT_START = MIB_SECTORS;
    static final long BIOS_BOOT_SECTORS = MIB_SECTORS;
    static final long ESP_START = 2 * MIB_SECTORS;
    static final long ESP_SECTORS = 62 * MIB_SECTORS;
    static final long ROOT_START = 64 * MIB_SECTORS;
    /** The last MiB stays free for the backup GPT. */
    static final long ROOT_SECTORS = (DISK_MIB - 65) * MIB_SECTORS;

    private static final String BIOS_BOOT_TYPE = "21686148-6449-6E6F-744E-656564454649";
    private static final String ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
    private static final String LINUX_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(20);

    private final HostTools tools;

    BootDiskImage(HostTools tools) {
        this.tools = tools;
    }

    /** The sfdisk script of the layout; sfdisk reads it from its standard input. */
    static String partitionTable() {
        return "label: gpt\nunit: sectors\nfirst-lba: 2048\n"
                + "start=" + BIOS_BOOT_START + ", size=" + BIOS_BOOT_SECTORS + ", type=" + BIOS_BOOT_TYPE + ", name=\"bios\"\n"
                + "start=" + ESP_START + ", size=" + ESP_SECTORS + ", type=" + ESP_TYPE + ", name=\"esp\"\n"
                + "start=" + ROOT_START + ", size=" + ROOT_SECTORS + ", type=" + LINUX_TYPE + ", name=\"root\"\n";
    }

    /**
     * Writes the raw disk: partition table, root filesystem from {@code rootTree} with {@code rootUuid},
     * the ESP with {@code espVolumeId} (XXXXXXXX, shown as XXXX-XXXX) holding the EFI loader, and
     * GRUB's BIOS boot code.
     */
    void writeRaw(Path raw, Path rootTree, String rootUuid, String espVolumeId, DebianRootFs.GrubImages grub)
            throws IOException {
        try (RandomAccessFile disk = new RandomAccessFile(raw.toFile(), "rw")) {
            disk.setLength(DISK_MIB << 20); // sparse
        }
        tools.run(TOOL_TIMEOUT, List.of("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", raw.toString()),
                partitionTable());
        // -E offset writes the filesystem inside the image at the partition; the size bounds it to the partition.
        tools.run(TOOL_TIMEOUT, List.of("mkfs.ext4", "-q", "-F", "-L", "root", "-U", rootUuid,
                "-E", "offset=" + ROOT_START * SECTOR, "-d", rootTree.toString(), raw.toString(),
                (ROOT_SECTORS * SECTOR / 1024) + "k"));
        String esp = raw + "@@" + ESP_START * SECTOR; // mtools' syntax for a filesystem at an offset in a file
        tools.run(TOOL_TIMEOUT, List.of("mformat", "-i", esp, "-T", Long.toString(ESP_SECTORS), "-h", "64", "-s", "32",
                "-N", espVolumeId, "-v", "EFI", "::"));
        tools.run(TOOL_TIMEOUT, List.of("mmd", "-i", esp, "::/EFI", "::/EFI/BOOT"));
        tools.run(TOOL_TIMEOUT, List.of("mcopy", "-i", esp, grub.efi().toString(), "::/EFI/BOOT/BOOTX64.EFI"));
        GrubBiosBoot.install(raw, grub.bootImg(), grub.core(), BIOS_BOOT_START, BIOS_BOOT_SECTORS);
    }

    /** Compressed qcow2: about a third of the data the root holds, and a copy per VM is quick. */
    void convertToQcow2(Path raw, Path qcow2) throws IOException {
        tools.run(TOOL_TIMEOUT, List.of("qemu-img", "convert", "-q", "-c", "-f", "raw", "-O", "qcow2", raw.toString(),
                qcow2.toString()));
    }
}
