package io.hypervise.engine.storage.vhd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.storage.MalformedImageException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Differencing chains, built by hand: a sector comes from the child where its bitmap says so, else from
 * the parent; parents are reached only through the resolver, and must be the disk the child names.
 */
class DifferencingVhdTest {

    private static final int SECTOR = 512;
    private static final int BLOCK = 512 * 1024;

    @TempDir
    Path dir;

    /** A resolver that knows files by name, as a caller would know a user's uploads. */
    private ParentResolver byName(Path... files) {
        return parent -> Arrays.stream(files).filter(f -> parent.names().contains(f.getFileName().toString())).findFirst();
    }

    private Path dynamicParent(String name, byte[] data) throws Exception {
        Path raw = Files.write(dir.resolve(name + ".raw"), data);
        Path vhd = dir.resolve(name);
        try (FileChannel source = FileChannel.open(raw, StandardOpenOption.READ)) {
            new VhdExport(Clock.systemUTC()).toDynamic(source, vhd, CopyProgress.NONE);
        }
        return vhd;
    }

    private static byte[] filled(int value) {
        byte[] sector = new byte[SECTOR];
        Arrays.fill(sector, (byte) value);
        return sector;
    }

    private static void put(byte[] disk, long sector, byte[] data) {
        System.arraycopy(data, 0, disk, (int) sector * SECTOR, SECTOR);
    }

    private byte[] imported(Path vhd, ParentResolver resolver) throws Exception {
        Path raw = dir.resolve(vhd.getFileName() + "-" + UUID.randomUUID() + ".raw");
        new VhdImport(resolver).toRaw(vhd, raw, CopyProgress.NONE);
        return Files.readAllBytes(raw);
    }

    @Test
    void sectorsComeFromTheChildWhereItsBitmapSaysElseFromTheParent() throws Exception {
        byte[] expected = Files.readAllBytes(Disks.used(dir.resolve("base.raw"), 4L * Disks.MIB, 21));
        Path parent = dynamicParent("parent.vhd", expected);
        VhdBuilder child = VhdBuilder.childOf(parent, BLOCK)
                .locator(ParentLocator.Platform.W2KU, "C:\\vms\\parent.vhd")
                .locator(ParentLocator.Platform.W2RU, ".\\parent.vhd");
        // block 0: some sectors of the child's; block 1: a child sector next to stale data the parent must hide;
        // block 2: none (unallocated); block 5 and 7: whole sectors at their edges
        Map<Long, Integer> childSectors = Map.of(0L, 0xA1, 1L, 0xA2, 7L, 0xA3, 1024L, 0xB1, 5L * 1024 - 1, 0xC1,
                5L * 1024, 0xC2, 8L * 1024 - 1, 0xD1);
        childSectors.forEach((sector, value) -> {
            child.sector(sector, filled(value));
            put(expected, sector, filled(value));
        });
        child.stale(1025, filled(0xEE)).stale(2, filled(0xEE));
        Path childVhd = child.writeTo(dir.resolve("child.vhd"));

        assertThat(imported(childVhd, byName(parent))).isEqualTo(expected);
    }

    @Test
    void aThreeDiskChainReadsEachSectorFromTheNearestDiskThatHasIt() throws Exception {
        byte[] expected = new byte[2 * Disks.MIB];
        Arrays.fill(expected, (byte) 0x11);
        Path base = dynamicParent("base.vhd", expected.clone());
        VhdBuilder middle = VhdBuilder.childOf(base, BLOCK).sector(10, filled(0x22)).sector(11, filled(0x22));
        Path middleVhd = middle.writeTo(dir.resolve("middle.vhd"));
        Path top = VhdBuilder.childOf(middleVhd, 4096).sector(11, filled(0x33)).sector(3000, filled(0x33))
                .writeTo(dir.resolve("top.vhd"));
        put(expected, 10, filled(0x22));
        put(expected, 11, filled(0x33));
        put(expected, 3000, filled(0x33));

        assertThat(imported(top, byName(base, middleVhd))).isEqualTo(expected);
    }

    @Test
    void describeNamesTheParentWithoutOpeningIt() throws Exception {
        Path parent = dynamicParent("parent.vhd", new byte[Disks.MIB]);
        Path child = VhdBuilder.childOf(parent, BLOCK).locator(ParentLocator.Platform.W2KU, "C:\\vms\\parent.vhd")
                .locator(ParentLocator.Platform.W2RU, ".\\parent.vhd").writeTo(dir.resolve("child.vhd"));
        Files.delete(parent);

        VhdDescription d = VhdImport.describe(child);

        assertThat(d.type()).isEqualTo(VhdType.DIFFERENCING);
        assertThat(d.virtualSize()).isEqualTo(Disks.MIB);
        VhdParent p = d.parent().orElseThrow();
        assertThat(p.name()).isEqualTo("parent.vhd");
        assertThat(p.locators()).containsExactly(new ParentLocator(ParentLocator.Platform.W2KU, "C:\\vms\\parent.vhd"),
                new ParentLocator(ParentLocator.Platform.W2RU, ".\\parent.vhd"));
        assertThat(p.names()).containsExactly("parent.vhd", "C:\\vms\\parent.vhd", ".\\parent.vhd");
    }

    @Test
    void aParentIsNeverOpenedByThePathTheChildNames() throws Exception {
        Path parent = dynamicParent("parent.vhd", new byte[Disks.MIB]);
        String absolute = parent.toAbsolutePath().toString();
        Path child = VhdBuilder.childOf(parent, BLOCK).parent(VhdImport.describe(parent).uniqueId(), absolute)
                .locator(ParentLocator.Platform.MACX, "file://" + absolute).writeTo(dir.resolve("child.vhd"));
        List<VhdParent> asked = new ArrayList<>();

        assertThatThrownBy(() -> imported(child, p -> {
            asked.add(p);
            return Optional.empty();
        })).isInstanceOf(VhdParentException.class)
                .hasMessageContaining("whose chain needs the parent '" + absolute + "'").hasMessageContaining("was not supplied");
        assertThat(asked).singleElement().satisfies(p -> assertThat(p.names()).contains(absolute, "file://" + absolute));
    }

    @Test
    void aParentWithAnotherUniqueIdIsRefused() throws Exception {
        Path parent = dynamicParent("parent.vhd", new byte[Disks.MIB]);
        Path impostor = dynamicParent("impostor.vhd", new byte[Disks.MIB]);
        Path child = VhdBuilder.childOf(parent, BLOCK).writeTo(dir.resolve("child.vhd"));

        assertThatThrownBy(() -> imported(child, p -> Optional.of(impostor))).isInstanceOf(VhdParentException.class)
                .hasMessageContaining("is not the disk supplied as 'impostor.vhd'");
    }

    @Test
    void aChainThatLoopsIsRefused() throws Exception {
        UUID a = UUID.randomUUID();
        UUID b = UUID.randomUUID();
        Path first = VhdBuilder.dynamic(Disks.MIB, BLOCK).uniqueId(a).parent(b, "b.vhd").writeTo(dir.resolve("a.vhd"));
        Path second = VhdBuilder.dynamic(Disks.MIB, BLOCK).uniqueId(b).parent(a, "a.vhd").writeTo(dir.resolve("b.vhd"));

        assertThatThrownBy(() -> imported(first, byName(first, second))).isInstanceOf(VhdParentException.class)
                .hasMessageContaining("loops back to 'a.vhd'");
    }

    @Test
    void aChainOfSixteenDisksIsFollowedAndALongerOneRefused() throws Exception {
        Path disk = dynamicParent("d0.vhd", filled(0x40));
        List<Path> disks = new ArrayList<>(List.of(disk));
        for (int i = 1; i <= VhdImport.MAX_CHAIN; i++) {
            disk = VhdBuilder.childOf(disk, 4096).sector(i, filled(0x40 + i)).writeTo(dir.resolve("d" + i + ".vhd"));
            disks.add(disk);
        }
        ParentResolver all = byName(disks.toArray(Path[]::new));

        byte[] fifteenDeep = imported(disks.get(VhdImport.MAX_CHAIN - 1), all);
        assertThat(fifteenDeep[15 * SECTOR]).isEqualTo((byte) (0x40 + 15));
        assertThat(fifteenDeep[0]).isEqualTo((byte) 0x40);
        assertThatThrownBy(() -> imported(disks.get(VhdImport.MAX_CHAIN), all)).isInstanceOf(VhdParentException.class)
                .hasMessageContaining("more than 16 disks");
    }

    @Test
    void aDamagedParentIsNamedInTheReason() throws Exception {
        Path parent = dynamicParent("parent.vhd", new byte[Disks.MIB]);
        Path child = VhdBuilder.childOf(parent, BLOCK).writeTo(dir.resolve("child.vhd"));
        try (FileChannel file = FileChannel.open(parent, StandardOpenOption.WRITE)) {
            file.truncate(file.size() - 100);
        }

        assertThatThrownBy(() -> imported(child, byName(parent)))
                .isInstanceOf(MalformedImageException.class)
                .hasMessageStartingWith("has a parent, 'parent.vhd', that is truncated");
    }
}
