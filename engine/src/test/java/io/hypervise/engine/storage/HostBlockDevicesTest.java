package io.hypervise.engine.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which host block devices a VM may be given whole, with real loop devices (tests run as root) and, for
 * device-mapper layouts this host does not have, a /sys tree and mount table laid out as the kernel's.
 */
class HostBlockDevicesTest {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private HostBlockDevices devices() {
        return new HostBlockDevices(dir);
    }

    @Test
    void aWholeLoopDeviceIsGivenByItsOwnNameWhateverLinkNamesIt() throws Exception {
        try (LoopDevice loop = LoopDevice.over(dir.resolve("whole.img"), 16 * MIB)) {
            assertThat(devices().problemWith(loop.path())).isEmpty();
            Path link = Files.createSymbolicLink(dir.resolve("my-disk"), loop.path());
            assertThat(devices().problemWith(link)).isEmpty();
            assertThat(devices().canonical(link)).isEqualTo(loop.path());
            assertThat(devices().sizeBytes(link)).isEqualTo(16 * MIB);
        }
    }

    @Test
    void filesCharacterDevicesPartitionsAndRelativePathsAreRefused() throws Exception {
        Path file = Files.write(dir.resolve("disk.img"), new byte[4096]);
        assertThat(devices().problemWith(file)).get().asString().startsWith("is a regular file, not a block device");
        assertThat(devices().problemWith(Files.createSymbolicLink(dir.resolve("to-file"), file))).get().asString()
                .contains("regular file").contains(file.toString());
        assertThat(devices().problemWith(Path.of("/dev/null"))).get().asString().startsWith("is a character device");
        assertThat(devices().problemWith(Path.of("dev/loop0"))).get().asString().contains("absolute path");
        assertThat(devices().problemWith(dir.resolve("nothing"))).get().asString().startsWith("no such device");
        try (LoopDevice loop = LoopDevice.partitioned(dir.resolve("table.img"), 32 * MIB)) {
            assertThat(devices().problemWith(loop.partition())).get().asString()
                    .startsWith("is partition 1 of " + loop.path() + ", not a whole disk");
            assertThat(devices().problemWith(loop.path())).as("the whole disk, its partition unused").isEmpty();
        }
    }

    @Test
    void theListingNamesEachWholeDeviceWithItsSizeItsFileAndWhyItCannotBeGiven() throws Exception {
        try (LoopDevice free = LoopDevice.over(dir.resolve("free.img"), 16 * MIB);
                LoopDevice table = LoopDevice.partitioned(dir.resolve("listed-table.img"), 32 * MIB);
                LoopDevice mounted = LoopDevice.over(dir.resolve("mounted.img"), 8 * MIB)) {
            LoopDevice.run(List.of("mkfs.ext4", "-q", "-F", mounted.path().toString()), null);
            Path point = Files.createDirectory(dir.resolve("listed-mnt"));
            LoopDevice.run(List.of("mount", mounted.path().toString(), point.toString()), null);
            List<HostBlockDevices.Device> listed;
            try {
                listed = devices().list();
            } finally {
                LoopDevice.run(List.of("umount", point.toString()), null);
            }
            HostBlockDevices.Device f = listed.stream().filter(d -> d.path().equals(free.path())).findFirst().orElseThrow();
            assertThat(f.sizeBytes()).isEqualTo(16 * MIB);
            assertThat(f.backingFile()).isEqualTo(dir.resolve("free.img").toString());
            assertThat(f.usable()).isTrue();
            assertThat(f.problem()).isNull();
            assertThat(listed).as("whole disks only: no partition of its own").extracting(HostBlockDevices.Device::path)
                    .contains(table.path()).doesNotContain(table.partition());
            HostBlockDevices.Device m = listed.stream().filter(d -> d.path().equals(mounted.path())).findFirst().orElseThrow();
            assertThat(m.usable()).isFalse();
            assertThat(m.problem()).startsWith("is mounted on the host at " + point);
            assertThat(listed).as("devices without a medium are left out").allMatch(d -> d.sizeBytes() > 0);
            assertThat(listed).as("the host's root disk, never usable").anyMatch(d -> !d.usable()
                    && d.problem().startsWith("holds the host's root file system (/)"));
        }
    }

    @Test
    void theDiskTheHostsRootFileSystemIsOnIsRefused() throws Exception {
        HostBlockDevices.Mount root = devices().mounts().stream().filter(m -> m.point().equals("/")).findFirst().orElseThrow();
        Path sysDir = Path.of("/sys/dev/block", root.majorMinor()).toRealPath();
        Path disk = Files.exists(sysDir.resolve("partition")) ? sysDir.getParent() : sysDir;
        Path node = Path.of("/dev", disk.getFileName().toString());
        assertThat(devices().problemWith(node)).get().asString().startsWith("holds the host's root file system (/)");
    }

    @Test
    void aMountedDeviceIsRefusedUntilItIsUnmounted() throws Exception {
        try (LoopDevice loop = LoopDevice.over(dir.resolve("fs.img"), 16 * MIB)) {
            LoopDevice.run(List.of("mkfs.ext4", "-q", "-F", loop.path().toString()), null);
            Path point = Files.createDirectory(dir.resolve("mnt"));
            LoopDevice.run(List.of("mount", loop.path().toString(), point.toString()), null);
            try {
                assertThat(devices().problemWith(loop.path())).get().asString()
                        .startsWith("is mounted on the host at " + point);
            } finally {
                LoopDevice.run(List.of("umount", point.toString()), null);
            }
            assertThat(devices().problemWith(loop.path())).isEmpty();
        }
    }

    /** A disk with LVM's device-mapper volume on it (dm-0's slave), as /sys shows one: the volume holds / or nothing. */
    @Test
    void aDiskUnderDeviceMapperIsRefusedAsWhatTheVolumeOnItHolds() throws Exception {
        try (LoopDevice loop = LoopDevice.over(dir.resolve("pv.img"), 16 * MIB)) {
            long rdev = ((Number) Files.getAttribute(loop.path(), "unix:rdev")).longValue();
            String majorMinor = HostBlockDevices.major(rdev) + ":" + HostBlockDevices.minor(rdev);
            String name = loop.path().getFileName().toString();
            Path sys = dir.resolve("sys");
            Path block = Files.createDirectories(sys.resolve("devices/virtual/block"));
            Path disk = Files.createDirectories(block.resolve(name + "/holders"));
            Files.writeString(block.resolve(name + "/size"), "32768\n");
            Path dm = Files.createDirectories(block.resolve("dm-0/slaves"));
            Files.createSymbolicLink(dm.resolve(name), Path.of("../../" + name));
            Files.createSymbolicLink(disk.resolve("dm-0"), Path.of("../../dm-0"));
            Path devBlock = Files.createDirectories(sys.resolve("dev/block"));
            Files.createSymbolicLink(devBlock.resolve(majorMinor), Path.of("../../devices/virtual/block/" + name));
            Files.createSymbolicLink(devBlock.resolve("253:9"), Path.of("../../devices/virtual/block/dm-0"));
            Path swaps = Files.writeString(dir.resolve("swaps"), "Filename Type Size Used Priority\n");

            Path rootOnLvm = Files.writeString(dir.resolve("mountinfo-root"),
                    "27 1 253:9 / / rw,relatime - ext4 /dev/mapper/vg-root rw\n");
            assertThat(new HostBlockDevices(sys, rootOnLvm, swaps, dir).problemWith(loop.path())).get().asString()
                    .startsWith("holds the host's root file system (/)");

            Path elsewhere = Files.writeString(dir.resolve("mountinfo-data"),
                    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n40 27 253:9 / /srv/data rw - xfs /dev/mapper/vg-data rw\n");
            assertThat(new HostBlockDevices(sys, elsewhere, swaps, dir).problemWith(loop.path())).get().asString()
                    .startsWith("is mounted on the host at /srv/data");

            Path unmounted = Files.writeString(dir.resolve("mountinfo-none"), "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
            assertThat(new HostBlockDevices(sys, unmounted, swaps, dir).problemWith(loop.path())).get().asString()
                    .startsWith("has block devices built on it by the host (dm-0");
        }
    }
}
