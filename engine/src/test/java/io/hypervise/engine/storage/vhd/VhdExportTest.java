package io.hypervise.engine.storage.vhd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.storage.VhdFooter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** VHDs we write, read back by qemu-img 7.2: the same bytes, at the whole-MiB size we wrote. */
class VhdExportTest {

    private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");

    @TempDir
    Path dir;

    private final VhdExport export = new VhdExport(Clock.fixed(NOW, ZoneOffset.UTC));

    @BeforeAll
    static void qemuImg() {
        QemuImg.requireInstalled();
    }

    private long write(String subformat, Path raw, Path vhd, CopyProgress progress) throws Exception {
        try (FileChannel source = FileChannel.open(raw, StandardOpenOption.READ)) {
            return subformat.equals("fixed") ? export.toFixed(source, vhd, progress) : export.toDynamic(source, vhd, progress);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixed", "dynamic"})
    void qemuReadsBackTheDiskPaddedToAWholeMib(String subformat) throws Exception {
        long bytes = 5L * Disks.MIB + 1000;
        Path raw = Disks.used(dir.resolve("disk.raw"), bytes, 11);
        Path vhd = dir.resolve("disk.vhd");

        long size = write(subformat, raw, vhd, CopyProgress.NONE);

        assertThat(size).isEqualTo(6L * Disks.MIB);
        assertThat(QemuImg.virtualSize(vhd)).isEqualTo(6L * Disks.MIB);
        Path padded = Files.write(dir.resolve("padded.raw"), Disks.padded(raw, size));
        assertThat(QemuImg.ok("compare", "-f", "raw", "-F", "vpc", padded.toString(), vhd.toString()))
                .contains("Images are identical");
        Path back = dir.resolve("back.raw");
        QemuImg.toRaw(vhd, back);
        assertThat(Files.mismatch(back, padded)).as("first differing byte").isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixed", "dynamic"})
    void ourImportReadsBackWhatOurExportWrote(String subformat) throws Exception {
        Path raw = Disks.used(dir.resolve("disk.raw"), 4L * Disks.MIB, 12);
        Path vhd = dir.resolve("disk.vhd");
        write(subformat, raw, vhd, CopyProgress.NONE);
        Path back = dir.resolve("back.raw");

        new VhdImport(ParentResolver.NONE).toRaw(vhd, back, CopyProgress.NONE);

        assertThat(Files.mismatch(back, raw)).as("first differing byte").isEqualTo(-1);
    }

    @Test
    void theFooterIsHyperVsWinCreatorWithTheSpecsGeometry() throws Exception {
        Path raw = Disks.used(dir.resolve("disk.raw"), 10L * Disks.MIB, 13);
        Path vhd = dir.resolve("disk.vhd");
        write("dynamic", raw, vhd, CopyProgress.NONE);

        VhdFooter footer = VhdFooter.read(vhd);
        VhdFooter atEnd = VhdFooter.parse(ByteBuffer.wrap(Files.readAllBytes(vhd), (int) Files.size(vhd) - 512, 512).slice());

        assertThat(footer).isEqualTo(atEnd);
        assertThat(footer.creatorApplication()).isEqualTo("win ");
        assertThat(footer.creatorHostOs()).isEqualTo("Wi2k");
        assertThat(footer.timestamp()).isEqualTo(NOW);
        assertThat(footer.currentSize()).isEqualTo(footer.originalSize()).isEqualTo(10L * Disks.MIB);
        // 20480 sectors: 17 sectors per track, 4 heads, 301 cylinders (20468 sectors, rounded down)
        assertThat(footer.geometry()).isEqualTo(new VhdFooter.Geometry(301, 4, 17));
    }

    @Test
    void aDynamicExportStoresOnlyTheBlocksThatAreNotZero() throws Exception {
        byte[] bytes = new byte[8 * Disks.MIB];
        bytes[5 * Disks.MIB + 17] = 1; // only the third 2 MiB block has data
        Path raw = Files.write(dir.resolve("sparse.raw"), bytes);
        Path vhd = dir.resolve("sparse.vhd");

        write("dynamic", raw, vhd, CopyProgress.NONE);

        // footer copy, header, one sector of table, one block (bitmap + 2 MiB), footer
        assertThat(Files.size(vhd)).isEqualTo(512 + 1024 + 512 + 512 + 2 * Disks.MIB + 512);
        assertThat(Disks.allocatedBytes(vhd)).isLessThan(Disks.MIB);
        assertThat(QemuImg.ok("compare", "-f", "raw", "-F", "vpc", raw.toString(), vhd.toString()))
                .contains("Images are identical");
    }

    @Test
    void aFixedExportLeavesZerosAsHoles() throws Exception {
        Path raw = Files.write(dir.resolve("blank.raw"), new byte[16 * Disks.MIB]);
        Path vhd = dir.resolve("blank.vhd");

        write("fixed", raw, vhd, CopyProgress.NONE);

        assertThat(Files.size(vhd)).isEqualTo(16L * Disks.MIB + 512);
        assertThat(Disks.allocatedBytes(vhd)).isLessThan(Disks.MIB);
    }

    @Test
    void progressCountsUpToTheVirtualSize() throws Exception {
        Path raw = Disks.used(dir.resolve("disk.raw"), 5L * Disks.MIB, 14);
        List<long[]> reports = new ArrayList<>();

        long size = write("dynamic", raw, dir.resolve("disk.vhd"), (done, total) -> reports.add(new long[] {done, total}));

        assertThat(reports).allSatisfy(r -> assertThat(r[1]).isEqualTo(size));
        assertThat(reports).extracting(r -> r[0]).isSorted().startsWith(0L).endsWith(size);
    }

    @Test
    void anEmptySourceIsRefusedAndLeavesNoFile() throws Exception {
        Path raw = Files.write(dir.resolve("empty.raw"), new byte[0]);
        Path vhd = dir.resolve("empty.vhd");

        assertThatThrownBy(() -> write("dynamic", raw, vhd, CopyProgress.NONE))
                .isInstanceOf(VhdExportException.class).hasMessageContaining("is empty");
        assertThat(vhd).doesNotExist();
    }
}
