package io.hypervise.engine.template;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Makes a disk image boot GRUB from a PC BIOS the way grub-bios-setup does, on an image file instead
 * of a block device (so no loop device): GRUB's boot.img becomes the code of the master boot record,
 * told the sector where core.img starts, and core.img goes into the GPT's BIOS boot partition, its
 * first sector (diskboot.img) told where the rest of it lies. Offsets from GRUB 2.06's
 * grub-core/boot/i386/pc/boot.S and diskboot.S (include/grub/i386/pc/boot.h) and util/setup.c.
 */
final class GrubBiosBoot {

    static final int SECTOR = 512;
    /** boot.img's code ends where the MBR's disk signature and partition table begin. */
    static final int MBR_CODE_LENGTH = 440;
    /** GRUB_BOOT_MACHINE_KERNEL_SECTOR: the LBA (64-bit) of core.img's first sector. */
    static final int KERNEL_SECTOR = 0x5c;
    /** GRUB_BOOT_MACHINE_BOOT_DRIVE: 0xff means "the drive the BIOS booted from" (DL). */
    static final int BOOT_DRIVE = 0x64;
    /** GRUB_BOOT_MACHINE_DRIVE_CHECK: a jump that grub-setup turns into two NOPs on hard disks. */
    static final int DRIVE_CHECK = 0x66;
    /** diskboot.img's first block list entry: start LBA (64-bit), sector count (16), segment (16). */
    static final int BLOCKLIST = SECTOR - 12;

    private GrubBiosBoot() {}

    /**
     * Writes boot.img into the image's first sector, keeping the partition table there, and core.img
     * at {@code coreSector}, the start of a BIOS boot partition of {@code partitionSectors} sectors.
     */
    static void install(Path rawDisk, byte[] bootImg, byte[] coreImg, long coreSector, long partitionSectors)
            throws IOException {
        if (coreImg.length > partitionSectors * SECTOR) {
            throw new IOException("GRUB's core.img (" + coreImg.length + " bytes) does not fit the BIOS boot partition ("
                    + partitionSectors * SECTOR + " bytes)");
        }
        try (FileChannel disk = FileChannel.open(rawDisk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer mbr = ByteBuffer.allocate(SECTOR);
            disk.read(mbr, 0);
            disk.write(ByteBuffer.wrap(masterBootRecord(bootImg, mbr.array(), coreSector)), 0);
            disk.write(ByteBuffer.wrap(core(coreImg, coreSector)), coreSector * SECTOR);
        }
    }

    static void install(Path rawDisk, Path bootImg, Path coreImg, long coreSector, long partitionSectors)
            throws IOException {
        install(rawDisk, Files.readAllBytes(bootImg), Files.readAllBytes(coreImg), coreSector, partitionSectors);
    }

    /** boot.img's code over the existing MBR's code area, pointing at core.img. */
    static byte[] masterBootRecord(byte[] bootImg, byte[] existingMbr, long coreSector) {
        if (bootImg.length != SECTOR || existingMbr.length != SECTOR) {
            throw new IllegalArgumentException("boot.img and the MBR are one 512-byte sector each");
        }
        if ((existingMbr[510] & 0xff) != 0x55 || (existingMbr[511] & 0xff) != 0xaa) {
            throw new IllegalArgumentException("the disk's first sector has no partition table (no 55 AA signature)");
        }
        byte[] mbr = existingMbr.clone();
        System.arraycopy(bootImg, 0, mbr, 0, MBR_CODE_LENGTH);
        ByteBuffer.wrap(mbr).order(ByteOrder.LITTLE_ENDIAN).putLong(KERNEL_SECTOR, coreSector);
        mbr[BOOT_DRIVE] = (byte) 0xff;
        mbr[DRIVE_CHECK] = (byte) 0x90;
        mbr[DRIVE_CHECK + 1] = (byte) 0x90;
        return mbr;
    }

    /**
     * core.img with its first block list pointing at the sectors right after its first one; grub-mkimage
     * already wrote their count, and the partition keeps them contiguous.
     */
    static byte[] core(byte[] coreImg, long coreSector) {
        if (coreImg.length < SECTOR) {
            throw new IllegalArgumentException("core.img is shorter than one sector");
        }
        byte[] core = coreImg.clone();
        ByteBuffer list = ByteBuffer.wrap(core).order(ByteOrder.LITTLE_ENDIAN);
        int sectorsAfterFirst = (core.length + SECTOR - 1) / SECTOR - 1;
        if ((list.getShort(BLOCKLIST + 8) & 0xffff) != sectorsAfterFirst) {
            throw new IllegalArgumentException("core.img's block list counts " + (list.getShort(BLOCKLIST + 8) & 0xffff)
                    + " sectors after its first, but it has " + sectorsAfterFirst + ": not an image of grub-mkimage -O i386-pc");
        }
        list.putLong(BLOCKLIST, coreSector + 1);
        return core;
    }
}
