package io.hypervise.engine.storage.vhd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.storage.MalformedImageException;
import io.hypervise.engine.storage.VhdFooter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged and hostile VHDs: each is refused with a reason a user can act on, never with a crash, and
 * never by reading outside the file's structures.
 */
class MalformedVhdTest {

    private static final int HEADER = 512;
    private static final int TABLE = 1536;

    @TempDir
    Path dir;

    /** A small VHD of our own making (4 MiB, data in every block), to damage. */
    private Path vhd(String subformat) throws Exception {
        Path raw = Disks.used(dir.resolve(subformat + ".raw"), 4L * Disks.MIB, 31);
        Path vhd = dir.resolve(subformat + ".vhd");
        try (FileChannel source = FileChannel.open(raw, StandardOpenOption.READ)) {
            VhdExport export = new VhdExport(Clock.systemUTC());
            if (subformat.equals("fixed")) {
                export.toFixed(source, vhd, CopyProgress.NONE);
            } else {
                export.toDynamic(source, vhd, CopyProgress.NONE);
            }
        }
        return vhd;
    }

    private static AbstractThrowableAssert<?, ?> assertRefused(Path vhd) {
        return assertThatThrownBy(() -> new VhdImport(ParentResolver.NONE).toRaw(vhd,
                vhd.resolveSibling(vhd.getFileName() + ".raw"), CopyProgress.NONE))
                .isInstanceOf(MalformedImageException.class);
    }

    private static void patch(Path file, long offset, ByteBuffer bytes) throws Exception {
        try (FileChannel f = FileChannel.open(file, StandardOpenOption.WRITE)) {
            VhdImport.writeFully(f, bytes, offset);
        }
    }

    private static ByteBuffer be() {
        return ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN);
    }

    private static void putInt(Path file, long offset, int value) throws Exception {
        patch(file, offset, be().putInt(0, value).limit(4));
    }

    private static void putLong(Path file, long offset, long value) throws Exception {
        patch(file, offset, be().putLong(0, value));
    }

    /** Recomputes the checksum of the dynamic header, so a damage gets past it to the check it is meant for. */
    private static void resealHeader(Path file) throws Exception {
        ByteBuffer header = ByteBuffer.wrap(Files.readAllBytes(file), HEADER, 1024).slice();
        putInt(file, HEADER + 36, VhdFooter.checksum(header, 36));
    }

    /** Recomputes the checksum of both copies of the footer (or the one of a fixed disk). */
    private static void resealFooters(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        for (int at : new int[] {0, bytes.length - 512}) {
            ByteBuffer footer = ByteBuffer.wrap(bytes, at, 512).slice();
            if (footer.getLong(0) == 0x636f6e6563746978L) { // "conectix"
                putInt(file, at + 64, VhdFooter.checksum(footer, 64));
            }
        }
    }

    private static void truncate(Path file, long size) throws Exception {
        try (FileChannel f = FileChannel.open(file, StandardOpenOption.WRITE)) {
            f.truncate(size);
        }
    }

    @Test
    void aFileTooShortOrWithoutAFooterIsNotAVhd() throws Exception {
        assertRefused(Files.write(dir.resolve("tiny.vhd"), new byte[100])).hasMessageContaining("is too short to be a VHD (100 bytes");
        byte[] noise = new byte[64 * 1024];
        new Random(1).nextBytes(noise);
        assertRefused(Files.write(dir.resolve("noise.vhd"), noise)).hasMessageContaining("is not a VHD image");
    }

    @Test
    void aTruncatedDynamicVhdIsSaidToBeTruncated() throws Exception {
        Path vhd = vhd("dynamic");
        truncate(vhd, Files.size(vhd) - 3 * Disks.MIB / 2);

        assertRefused(vhd).hasMessageContaining("is truncated or damaged: a dynamic VHD ends with a copy of its footer");
    }

    @Test
    void aTruncatedDynamicVhdWithItsFooterPutBackHasBlocksPastItsEnd() throws Exception {
        Path vhd = vhd("dynamic");
        byte[] footer = Files.readAllBytes(vhd);
        truncate(vhd, Files.size(vhd) - Disks.MIB);
        patch(vhd, Files.size(vhd), ByteBuffer.wrap(footer, 0, 512));

        assertRefused(vhd).hasMessageContaining("points past the end of the file").hasMessageContaining("truncated");
    }

    @Test
    void aFixedVhdMissingDataIsSaidToBeTruncated() throws Exception {
        Path vhd = vhd("fixed");
        byte[] bytes = Files.readAllBytes(vhd);
        Files.delete(vhd);
        ByteBuffer shorter = ByteBuffer.allocate(Disks.MIB + 512).put(bytes, 0, Disks.MIB).put(bytes, bytes.length - 512, 512);
        Files.write(vhd, shorter.array());

        assertRefused(vhd).hasMessageContaining("is truncated: its footer declares 4194304 bytes of data but the file holds 1048576");
    }

    @Test
    void aFooterWithAWrongChecksumIsDamaged() throws Exception {
        Path fixed = vhd("fixed");
        patch(fixed, Files.size(fixed) - 512 + 48 + 6, ByteBuffer.wrap(new byte[] {0x7f}));

        assertRefused(fixed).hasMessageContaining("has a damaged VHD footer: its checksum is 0x");
    }

    @Test
    void aDynamicHeaderWithAWrongChecksumIsDamaged() throws Exception {
        Path vhd = vhd("dynamic");
        putInt(vhd, HEADER + 28, 99);

        assertRefused(vhd).hasMessageContaining("has a damaged dynamic VHD header: its checksum is 0x");
    }

    @Test
    void aTableEntryPastTheEndOfTheFileIsRefused() throws Exception {
        Path vhd = vhd("dynamic");
        putInt(vhd, TABLE + 4, 0x7fff_0000);

        assertRefused(vhd).hasMessageContaining("block allocation table entry (block 1, sector 2147418112) that points past the end of the file");
    }

    @Test
    void aTableEntryIntoTheHeadersIsRefused() throws Exception {
        Path vhd = vhd("dynamic");
        putInt(vhd, TABLE, 1);

        assertRefused(vhd).hasMessageContaining("(block 0, sector 1) that points into the VHD's own footer, header or table");
    }

    @Test
    void aTableOutsideTheFileIsRefused() throws Exception {
        Path vhd = vhd("dynamic");
        putLong(vhd, HEADER + 16, 1L << 40);
        resealHeader(vhd);

        assertRefused(vhd).hasMessageContaining("that does not lie inside the file");
    }

    @Test
    void aTableTooShortForTheDiskIsRefused() throws Exception {
        Path vhd = vhd("dynamic");
        putInt(vhd, HEADER + 28, 1);
        resealHeader(vhd);

        assertRefused(vhd).hasMessageContaining("has a block allocation table of 1 entries, too few for its 4194304-byte disk (it needs 2)");
    }

    @Test
    void aBlockSizeThatIsNoPowerOfTwoIsRefused() throws Exception {
        Path vhd = vhd("dynamic");
        putInt(vhd, HEADER + 32, 3 << 19);
        resealHeader(vhd);

        assertRefused(vhd).hasMessageContaining("has an impossible VHD block size (1572864 bytes");
    }

    @Test
    void aHeaderOutsideTheFileIsRefused() throws Exception {
        Path vhd = vhd("dynamic");
        putLong(vhd, 16, -2);
        putLong(vhd, Files.size(vhd) - 512 + 16, -2);
        resealFooters(vhd);

        assertRefused(vhd).hasMessageContaining("places its dynamic VHD header at offset 18446744073709551614, outside the file");
    }

    @Test
    void aDiskLargerThan2040GibIsRefused() throws Exception {
        Path vhd = vhd("fixed");
        putLong(vhd, Files.size(vhd) - 512 + 48, 3L << 40);
        resealFooters(vhd);

        assertRefused(vhd).hasMessageContaining("declares a virtual size of 3298534883328 bytes, more than the 2040 GiB a VHD can hold");
    }

    @Test
    void anUnknownDiskTypeIsRefused() throws Exception {
        Path vhd = vhd("fixed");
        putInt(vhd, Files.size(vhd) - 512 + 60, 6);
        resealFooters(vhd);

        assertRefused(vhd).hasMessageContaining("is a VHD of unknown disk type 6");
    }

    @Test
    void aDynamicVhdWithoutItsFooterCopyAtTheStartIsRefused() throws Exception {
        Path vhd = vhd("dynamic");
        patch(vhd, 0, ByteBuffer.allocate(512));

        assertRefused(vhd).hasMessageContaining("is a dynamic VHD without the copy of its footer at its start");
    }

    @Test
    void aParentLocatorOutsideTheFileIsRefused() throws Exception {
        Path parent = vhd("dynamic");
        Path child = VhdBuilder.childOf(parent, 4096).locator(ParentLocator.Platform.W2KU, "C:\\p.vhd")
                .writeTo(dir.resolve("child.vhd"));
        putLong(child, HEADER + 576 + 16, Files.size(child) - 2);
        resealHeader(child);

        assertThatThrownBy(() -> VhdImport.describe(child)).isInstanceOf(MalformedImageException.class)
                .hasMessageContaining("has a parent locator (W2ku) whose data lies outside the file");
    }

    /**
     * Random damage to the footer, header and table (checksums recomputed, so the damage reaches the checks
     * behind them) gives a reason or a readable disk, never another exception.
     */
    @Test
    void anyDamageToTheStructuresGivesAReasonNeverACrash() throws Exception {
        byte[] pristine = Files.readAllBytes(VhdBuilder.dynamic(2 * Disks.MIB, 64 * 1024).sector(0, new byte[] {1})
                .sector(300, new byte[] {2}).parent(UUID.randomUUID(), "p.vhd")
                .locator(ParentLocator.Platform.W2RU, ".\\p.vhd").writeTo(dir.resolve("pristine.vhd")));
        Random random = new Random(42);
        int refused = 0;
        for (int i = 0; i < 400; i++) {
            byte[] bytes = pristine.clone();
            for (int d = 0; d < 1 + random.nextInt(4); d++) {
                int at = random.nextInt(3) == 0 ? random.nextInt(bytes.length) : random.nextInt(TABLE + 512);
                bytes[at] = (byte) random.nextInt(256);
            }
            Path vhd = Files.write(dir.resolve("damaged.vhd"), bytes);
            if (random.nextBoolean()) {
                resealFooters(vhd);
                resealHeader(vhd);
            }
            try (VhdChain chain = new VhdImport(p -> Optional.of(vhd)).open(vhd)) {
                byte[] first = new byte[(int) Math.min(Disks.MIB, chain.virtualSize())];
                chain.read(0, first, 0, first.length);
            } catch (MalformedImageException | VhdParentException e) {
                assertThat(e.getMessage()).isNotBlank();
                refused++;
            }
        }
        assertThat(refused).isPositive();
    }
}
