package io.hypervise.engine.storage.vhd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Our VHD reader against qemu-img's on the VHDs qemu-img makes: the same bytes, holes kept. */
class VhdImportTest {

    @TempDir
    Path dir;

    private final VhdImport vhdImport = new VhdImport(ParentResolver.NONE);

    @BeforeAll
    static void qemuImg() {
        QemuImg.requireInstalled();
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixed", "dynamic"})
    void aVhdMadeByQemuImportsToTheBytesQemuReadsFromIt(String subformat) throws Exception {
        Path raw = Disks.used(dir.resolve("disk.raw"), 5 * Disks.MIB + 3 * 512, 7);
        Path vhd = dir.resolve("disk.vhd");
        QemuImg.toVhd(raw, vhd, subformat);
        Path byQemu = dir.resolve("qemu.raw");
        QemuImg.toRaw(vhd, byQemu);

        Path ours = dir.resolve("ours.raw");
        long size = vhdImport.toRaw(vhd, ours, CopyProgress.NONE);

        assertThat(size).isEqualTo(QemuImg.virtualSize(vhd)).isEqualTo(Files.size(byQemu));
        assertThat(Files.mismatch(ours, byQemu)).as("first differing byte").isEqualTo(-1);
    }

    @Test
    void aVhdMadeByQemuWithForcedSizeImportsAtThatSize() throws Exception {
        Path raw = Disks.used(dir.resolve("disk.raw"), 3 * Disks.MIB + 512, 8);
        Path vhd = dir.resolve("disk.vhd");
        QemuImg.ok("convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size=on", raw.toString(), vhd.toString());

        Path ours = dir.resolve("ours.raw");
        vhdImport.toRaw(vhd, ours, CopyProgress.NONE);

        assertThat(VhdImport.describe(vhd).creatorApplication()).isEqualTo("qem2");
        assertThat(Files.mismatch(ours, raw)).as("first differing byte").isEqualTo(-1);
    }

    @Test
    void aBlankDynamicVhdImportsAsOneHole() throws Exception {
        Path vhd = dir.resolve("blank.vhd");
        QemuImg.ok("create", "-f", "vpc", "-o", "subformat=dynamic", vhd.toString(), "64M");
        Path ours = dir.resolve("blank.raw");

        long size = vhdImport.toRaw(vhd, ours, CopyProgress.NONE);

        assertThat(size).isEqualTo(QemuImg.virtualSize(vhd)).isEqualTo(Files.size(ours)).isGreaterThanOrEqualTo(64 * Disks.MIB);
        assertThat(Disks.allocatedBytes(ours)).isZero();
    }

    @Test
    void zeroRunsOfADiskStayHolesInTheRawFile() throws Exception {
        Path raw = Disks.used(dir.resolve("disk.raw"), 6 * Disks.MIB, 9);
        Path vhd = dir.resolve("disk.vhd");
        QemuImg.toVhd(raw, vhd, "fixed");
        Path ours = dir.resolve("ours.raw");

        vhdImport.toRaw(vhd, ours, CopyProgress.NONE);

        // the second and third MiB are zeros: at most the other four are written
        assertThat(Disks.allocatedBytes(ours)).isLessThanOrEqualTo(4L * Disks.MIB + 64 * 1024);
    }

    @Test
    void progressCountsUpToTheVirtualSize() throws Exception {
        Path vhd = dir.resolve("blank.vhd");
        QemuImg.ok("create", "-f", "vpc", "-o", "subformat=dynamic", vhd.toString(), "5M");
        List<long[]> reports = new ArrayList<>();

        long size = vhdImport.toRaw(vhd, dir.resolve("out.raw"), (done, total) -> reports.add(new long[] {done, total}));

        assertThat(reports).allSatisfy(r -> assertThat(r[1]).isEqualTo(size));
        assertThat(reports).extracting(r -> r[0]).isSorted().startsWith(0L).endsWith(size);
    }

    @Test
    void describeTellsTypeSizeAndIdWithoutAParent() throws Exception {
        Path fixed = dir.resolve("fixed.vhd");
        Path dynamic = dir.resolve("dynamic.vhd");
        QemuImg.ok("create", "-f", "vpc", "-o", "subformat=fixed,force_size=on", fixed.toString(), "3M");
        QemuImg.ok("create", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", dynamic.toString(), "7M");

        VhdDescription f = VhdImport.describe(fixed);
        VhdDescription d = VhdImport.describe(dynamic);

        assertThat(f.type()).isEqualTo(VhdType.FIXED);
        assertThat(f.virtualSize()).isEqualTo(3 * Disks.MIB);
        assertThat(d.type()).isEqualTo(VhdType.DYNAMIC);
        assertThat(d.virtualSize()).isEqualTo(7 * Disks.MIB);
        assertThat(f.parent()).isEmpty();
        assertThat(d.parent()).isEmpty();
        assertThat(f.uniqueId()).isNotEqualTo(d.uniqueId());
    }

    @Test
    void anImportRefusesToReplaceAFile() throws Exception {
        Path vhd = dir.resolve("blank.vhd");
        QemuImg.ok("create", "-f", "vpc", "-o", "subformat=dynamic", vhd.toString(), "1M");
        Path existing = Files.writeString(dir.resolve("precious.raw"), "keep me");

        assertThatThrownBy(() -> vhdImport.toRaw(vhd, existing, CopyProgress.NONE))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThat(Files.readString(existing)).isEqualTo("keep me");
    }
}
