package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervise.engine.Engine;
import io.hypervise.engine.vm.VmAlreadyExistsException;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Blank disks a VM is created with: made by qemu-img in the VM's own folder, deleted with it, and only those. */
class DiskImagesTest {

    private static TestHost host;
    private static Engine engine;

    @BeforeAll
    static void openEngine() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
    }

    @AfterAll
    static void close() throws Exception {
        engine.close();
        host.close();
    }

    @Test
    void blankDisksAreCreatedInTheVmsFolderAndDeletedWithItWhileSharedImagesStay() throws Exception {
        Path shared = host.newDisk("shared.qcow2", "qcow2", "8M");
        VmStatus defined = engine.vms().define(host.tinyLinux("blanks")
                .withDisks(new Disk(null, DiskFormat.QCOW2, false), new Disk(null, DiskFormat.RAW, false),
                        new Disk(shared, DiskFormat.QCOW2, true))
                .build(), Map.of(0, 128L << 20, 1, 1L << 20));

        Path folder = host.storageRoot().toRealPath().resolve("vms/blanks");
        List<Disk> disks = defined.definition().disks();
        assertThat(disks).extracting(Disk::path)
                .containsExactly(folder.resolve("disk0.qcow2"), folder.resolve("disk1.img"), shared.toRealPath());
        assertThat(virtualSize(disks.get(0).path(), "qcow2")).isEqualTo(128L << 20);
        assertThat(virtualSize(disks.get(1).path(), "raw")).isEqualTo(1L << 20);
        assertThat(engine.images().owns("blanks", disks.get(0).path())).isTrue();
        assertThat(engine.images().owns("blanks", shared)).isFalse();

        List<Path> deleted = engine.vms().delete("blanks");

        assertThat(deleted).containsExactly(folder.resolve("disk0.qcow2"), folder.resolve("disk1.img"));
        assertThat(folder).doesNotExist();
        assertThat(shared).exists();
    }

    @Test
    void anInvalidDefinitionCreatesNoImage() {
        assertThatThrownBy(() -> engine.vms().define(host.tinyLinux("invalid").withVcpus(0)
                .withDisks(new Disk(null, DiskFormat.QCOW2, false)).build(), Map.of(0, 1L << 20)))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("vcpus");
        assertThat(host.storageRoot().resolve("vms/invalid")).doesNotExist();
    }

    @Test
    void definingAnExistingIdAgainLeavesTheFirstVmsDisksAlone() {
        engine.vms().define(host.tinyLinux("twice").withDisks(new Disk(null, DiskFormat.QCOW2, false)).build(),
                Map.of(0, 1L << 20));
        Path first = host.storageRoot().resolve("vms/twice/disk0.qcow2");

        assertThatThrownBy(() -> engine.vms().define(host.tinyLinux("twice")
                .withDisks(new Disk(null, DiskFormat.QCOW2, false)).build(), Map.of(0, 1L << 20)))
                .isInstanceOf(VmAlreadyExistsException.class);
        assertThat(first).exists();
        engine.vms().delete("twice");
    }

    @Test
    void aVmIsRenamedAndAnEmptyNameIsRefused() {
        engine.vms().define(host.tinyLinux("renamed").build());

        assertThat(engine.vms().rename("renamed", "new name").name()).isEqualTo("new name");
        assertThatThrownBy(() -> engine.vms().rename("renamed", " "))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("name");
        assertThat(engine.vms().status("renamed").name()).isEqualTo("new name");
        engine.vms().delete("renamed");
    }

    private static long virtualSize(Path image, String format) throws Exception {
        Process p = new ProcessBuilder("qemu-img", "info", "--output=json", "-f", format, image.toString()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor()).isZero();
        return new ObjectMapper().readTree(out).get("virtual-size").asLong();
    }
}
