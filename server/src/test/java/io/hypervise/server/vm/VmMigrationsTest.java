package io.hypervise.server.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.CdRom;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class VmMigrationsTest {

    private static final Path A = Path.of("/srv/a/storage");
    private static final Path B = Path.of("/srv/b/storage");

    @Test
    void pathsUnderTheSourcesStorageRootAreTheSameFilesUnderTheTargetsAndOthersStayAsTheyAre() {
        VmDefinition d = definition(
                List.of(new Disk(A.resolve("vms/x/disk0.qcow2"), DiskFormat.QCOW2, false,
                                new Disk.Backing(A.resolve("library/tiny-linux/base.qcow2"), DiskFormat.QCOW2), null, false),
                        new Disk(Path.of("/dev/sdz"), DiskFormat.RAW, true, null, null, true)),
                new BootSource.Kernel(A.resolve("library/tiny-linux/vmlinuz"), A.resolve("library/tiny-linux/initrd.img"), "quiet"),
                new CdRom(A.resolve("library/iso/tools.iso")));

        VmDefinition moved = VmMigrations.rebased(d, A, B);

        assertThat(moved.disks().get(0).path()).isEqualTo(B.resolve("vms/x/disk0.qcow2"));
        assertThat(moved.disks().get(0).backing().path()).isEqualTo(B.resolve("library/tiny-linux/base.qcow2"));
        assertThat(moved.disks().get(1).path()).as("a host device is not under the root").isEqualTo(Path.of("/dev/sdz"));
        assertThat(moved.disks().get(1).hostDevice()).isTrue();
        BootSource.Kernel kernel = (BootSource.Kernel) moved.boot();
        assertThat(kernel.kernel()).isEqualTo(B.resolve("library/tiny-linux/vmlinuz"));
        assertThat(kernel.initramfs()).isEqualTo(B.resolve("library/tiny-linux/initrd.img"));
        assertThat(kernel.commandLine()).isEqualTo("quiet");
        assertThat(moved.cdrom().medium()).isEqualTo(B.resolve("library/iso/tools.iso"));
        assertThat(moved).as("nothing else changes").usingRecursiveComparison().ignoringFields("disks", "boot", "cdrom")
                .isEqualTo(d);
    }

    @Test
    void theSameRootChangesNothing() {
        VmDefinition d = definition(List.of(), new BootSource.Kernel(A.resolve("k"), null, ""), null);
        assertThat(VmMigrations.rebased(d, A, A)).isSameAs(d);
        assertThat(((BootSource.Kernel) VmMigrations.rebased(d, A, B).boot()).initramfs()).isNull();
    }

    private static VmDefinition definition(List<Disk> disks, BootSource boot, CdRom cdrom) {
        return new VmDefinition("x", "x", 1, 128, DeviceProfile.ENLIGHTENED, disks, List.of(), boot, null, null, null, cdrom,
                null, null, List.of());
    }
}
