package io.hypervise.engine.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import io.hypervise.engine.vm.definition.Violation;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which disks a checkpoint covers, and the refusal that names each disk that cannot hold one. */
class CheckpointsTest {

    @Test
    void everyWritableQcow2DiskIsCoveredAndReadOnlyDisksAreLeftOut() {
        assertThat(Checkpoints.covered(vm(new Disk(Path.of("/s/a.qcow2"), DiskFormat.QCOW2, false),
                new Disk(Path.of("/s/golden.img"), DiskFormat.RAW, true),
                new Disk(Path.of("/s/b.qcow2"), DiskFormat.QCOW2, false)))).containsExactly(0, 2);
    }

    @Test
    void aWritableDiskThatIsNotQcow2IsRefusedByPositionAndName() {
        assertThatThrownBy(() -> Checkpoints.covered(vm(new Disk(Path.of("/s/a.qcow2"), DiskFormat.QCOW2, false),
                new Disk(Path.of("/s/seed.img"), DiskFormat.RAW, false))))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .extracting(e -> ((InvalidVmDefinitionException) e).violations())
                .isEqualTo(List.of(new Violation("disks[1]", "is raw (seed.img): only qcow2 disks hold checkpoints;"
                        + " copy it to a qcow2 disk or make it read-only")));
    }

    @Test
    void aHostDevicePassedThroughIsRefusedByNameEvenReadOnly() {
        assertThatThrownBy(() -> Checkpoints.covered(vm(new Disk(Path.of("/s/a.qcow2"), DiskFormat.QCOW2, false),
                Disk.hostDevice(Path.of("/dev/loop5"), true))))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .extracting(e -> ((InvalidVmDefinitionException) e).violations())
                .isEqualTo(List.of(new Violation("disks[1]", "is the host device /dev/loop5, passed through whole: no"
                        + " checkpoint can keep what is on it; remove it from the VM to take checkpoints")));
    }

    @Test
    void aVmWithoutAWritableDiskHasNowhereToKeepOne() {
        assertThatThrownBy(() -> Checkpoints.covered(vm(new Disk(Path.of("/s/golden.img"), DiskFormat.RAW, true))))
                .hasMessageContaining("has no writable disk to keep a checkpoint in");
    }

    private static VmDefinition vm(Disk... disks) {
        return new VmDefinition("vm-1", "web", 1, 256, DeviceProfile.ENLIGHTENED, List.of(disks), List.of(),
                new BootSource.FirstDisk(), Display.NONE);
    }
}
