package io.hypervise.engine.vm;

import static io.hypervise.engine.vm.Definitions.aKernelVm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.storage.StorageRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmDefinitionValidatorTest {

    @TempDir
    Path tmp;
    Path root;
    VmDefinitionValidator validator;
    Path kernel;
    Path disk;

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectories(tmp.resolve("storage"));
        validator = new VmDefinitionValidator(new StorageRoot(root));
        kernel = Files.writeString(root.resolve("vmlinuz"), "k");
        disk = Files.writeString(root.resolve("disk.qcow2"), "d");
        Files.writeString(tmp.resolve("outside.img"), "secret");
    }

    private Definitions valid() {
        return aKernelVm(kernel, null, "console=ttyS0");
    }

    @Test
    void aCompleteDefinitionIsValid() {
        assertThat(validator.violations(valid().withDisks(new Disk(disk, DiskFormat.QCOW2, false))
                .withNics(new Nic("52:54:00:12:34:56")).build())).isEmpty();
    }

    @Test
    void everyBrokenRuleIsNamedByItsField() {
        VmDefinition def = new VmDefinition("Web_1", "", 0, 8, null, null, null, null, null);
        assertThat(validator.violations(def)).extracting(Violation::field)
                .containsExactlyInAnyOrder("id", "name", "vcpus", "memoryMib", "profile", "display", "boot");
    }

    @Test
    void sizesOutsideTheirRangeSayTheRange() {
        assertThat(validator.violations(valid().withVcpus(65).withMemory(16).build()))
                .containsExactlyInAnyOrder(
                        new Violation("vcpus", "must be between 1 and 64; got 65"),
                        new Violation("memoryMib", "must be between 32 and 1048576 MiB; got 16"));
    }

    @Test
    void aPathOutsideTheStorageRootIsRefused() {
        VmDefinition dotdot = valid().withDisks(new Disk(Path.of("../outside.img"), DiskFormat.RAW, false)).build();
        assertThat(validator.violations(dotdot)).singleElement()
                .satisfies(v -> assertThat(v.field()).isEqualTo("disks[0].path"))
                .satisfies(v -> assertThat(v.message()).startsWith("must be inside the storage root"));
    }

    @Test
    void aSymbolicLinkLeadingOutsideTheStorageRootIsRefused() throws IOException {
        Path link = Files.createSymbolicLink(root.resolve("innocent.img"), tmp.resolve("outside.img"));
        VmDefinition def = valid().withDisks(new Disk(link, DiskFormat.RAW, false)).build();
        assertThat(validator.violations(def)).singleElement()
                .satisfies(v -> assertThat(v.message()).contains("symbolic link"));
    }

    @Test
    void aMissingFileAndAMissingFormatAreReported() {
        VmDefinition def = valid().withDisks(new Disk(root.resolve("nope.qcow2"), null, false)).build();
        assertThat(validator.violations(def)).extracting(Violation::field)
                .containsExactlyInAnyOrder("disks[0].format", "disks[0].path");
    }

    @Test
    void macAddressesMustBeWellFormedUnicast() {
        VmDefinition def = valid().withNics(new Nic("52:54:00:12:34"), new Nic("01:00:5e:00:00:01"),
                new Nic("00:00:00:00:00:00")).build();
        assertThat(validator.violations(def)).extracting(Violation::field)
                .containsExactly("nics[0].mac", "nics[1].mac", "nics[2].mac");
    }

    @Test
    void aSwitchIsNamedByItsIdWhichCannotSmuggleOptions() {
        VmDefinition def = valid().withNics(new Nic("52:54:00:12:34:56", "lab,script=/tmp/x"),
                new Nic("52:54:00:12:34:58", "lab")).build();
        assertThat(validator.violations(def)).extracting(Violation::field).containsExactly("nics[0].switch");
    }

    @Test
    void aVlanIsOneOfASwitchs() {
        VmDefinition def = valid().withNics(new Nic("52:54:00:12:34:56", null, 10), new Nic("52:54:00:12:34:58", "lab", 0),
                new Nic("52:54:00:12:34:5a", "lab", 4095), new Nic("52:54:00:12:34:5c", "lab", 4094)).build();
        assertThat(validator.violations(def)).extracting(Violation::field)
                .containsExactly("nics[0].vlan", "nics[1].vlan", "nics[2].vlan");
    }

    @Test
    void theLegacyProfileHasFourIdeSlots() {
        Disk d = new Disk(disk, DiskFormat.QCOW2, false);
        VmDefinition def = valid().legacy().withDisks(d, d, d, d, d).build();
        assertThat(validator.violations(def)).singleElement()
                .satisfies(v -> assertThat(v.message()).contains("4 IDE slots"));
    }

    @Test
    void bootingFromADiskNeedsADisk() {
        assertThat(validator.violations(valid().bootingFrom(new BootSource.FirstDisk()).build()))
                .containsExactly(new Violation("boot", "boots from the first disk, but the VM has no disk"));
    }

    @Test
    void aCommandLineWithALineBreakIsRefused() {
        assertThat(validator.violations(aKernelVm(kernel, null, "quiet\ninit=/bin/sh").build()))
                .extracting(Violation::field).containsExactly("boot.commandLine");
    }

    @Test
    void validateThrowsWithEveryViolationInTheMessage() {
        assertThatThrownBy(() -> validator.validate(valid().withVcpus(0).withName(" ").build()))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("vcpus: must be between 1 and 64")
                .hasMessageContaining("name: is required");
    }
}
