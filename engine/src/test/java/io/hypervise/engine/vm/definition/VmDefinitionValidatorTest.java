package io.hypervise.engine.vm.definition;

import static io.hypervise.engine.vm.definition.Definitions.aKernelVm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.hypervise.engine.storage.QcowHeader;
import io.hypervise.engine.storage.StorageRoot;
import io.hypervise.engine.storage.VhdFooter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
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
        validator = new VmDefinitionValidator(new StorageRoot(root), true);
        kernel = Files.writeString(root.resolve("vmlinuz"), "k");
        disk = qcow2("disk.qcow2", null);
        Files.writeString(tmp.resolve("outside.img"), "secret");
    }

    /** A qcow2 file of version 2 with nothing in it but its header, naming {@code backing} if not null. */
    private Path qcow2(String name, String backing) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1024).putInt(0, QcowHeader.MAGIC).putInt(4, 2).putInt(20, 16);
        if (backing != null) {
            byte[] bytes = backing.getBytes(StandardCharsets.UTF_8);
            b.putLong(8, 512).putInt(16, bytes.length).put(512, bytes);
        }
        return Files.write(root.resolve(name), b.array());
    }

    /** A file of {@code size} bytes that starts with {@code head} and ends with {@code tail}. */
    private Path file(String name, int size, String head, byte[] tail) throws IOException {
        byte[] bytes = new byte[size];
        byte[] start = head.getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(start, 0, bytes, 0, start.length);
        System.arraycopy(tail, 0, bytes, size - tail.length, tail.length);
        return Files.write(root.resolve(name), bytes);
    }

    private static byte[] vhdFooter(int diskType) {
        ByteBuffer footer = ByteBuffer.allocate(VhdFooter.FOOTER_SIZE).put("conectix".getBytes(StandardCharsets.US_ASCII))
                .putInt(60, diskType);
        return footer.putInt(64, VhdFooter.checksum(footer, 64)).array();
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
    void maximumsAreFromTheVmsSizeToTheLargestAndMemoryGrowsOnTheEnlightenedProfileOnly() {
        assertThat(validator.violations(valid().withVcpus(2).withMemory(256).withMaximums(4, 1024).build())).isEmpty();
        assertThat(validator.violations(valid().withVcpus(2).withMemory(256).withMaximums(2, 256).build())).isEmpty();
        assertThat(validator.violations(valid().withVcpus(2).withMemory(256).withMaximums(1, 128).build()))
                .extracting(Violation::field, Violation::message)
                .containsExactlyInAnyOrder(
                        tuple("maxVcpus", "must be from the VM's vCPUs (2) to 64; got 1"),
                        tuple("maxMemoryMib", "must be from the VM's memory (256 MiB) to 1048576 MiB; got 128"));
        assertThat(validator.violations(valid().withMaximums(65, null).build())).extracting(Violation::field)
                .containsExactly("maxVcpus");
        assertThat(validator.violations(valid().withMemory(256).withMaximums(null, 300).build())).singleElement()
                .satisfies(v -> assertThat(v.field()).isEqualTo("maxMemoryMib"))
                .satisfies(v -> assertThat(v.message()).contains("at least 384 MiB"));
        // vCPUs grow on both machines; memory only on q35.
        assertThat(validator.violations(valid().legacy().withMaximums(4, 1024).build())).singleElement()
                .satisfies(v -> assertThat(v.field()).isEqualTo("maxMemoryMib"))
                .satisfies(v -> assertThat(v.message()).contains("enlightened profile only"));
    }

    @Test
    void dimmsAddedWhileTheVmRanAreWholeStepsInItsSlotsAndLeaveItMemoryToStartWith() {
        assertThat(validator.violations(valid().withMemory(512).withMaximums(null, 1024).withDimms(128, 256).build())).isEmpty();
        assertThat(validator.violations(valid().withMemory(512).withMaximums(null, 1024).withDimms(100).build()))
                .extracting(Violation::field).containsExactly("memoryDimmsMib");
        assertThat(validator.violations(valid().withMemory(280).withMaximums(null, 1024).withDimms(128, 128).build()))
                .singleElement().satisfies(v -> assertThat(v.message()).contains("less than 32 MiB"));
        assertThat(validator.violations(valid().withMemory(2048).withMaximums(null, 4096)
                .withDimms(128, 128, 128, 128, 128, 128, 128, 128, 128).build()))
                .extracting(Violation::field).containsExactly("memoryDimmsMib");
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
    void aQcow2ImageThatNamesABackingFileIsRefusedByItsField() throws IOException {
        VmDefinition def = valid().withDisks(new Disk(disk, DiskFormat.QCOW2, false),
                new Disk(qcow2("evil.qcow2", "/etc/shadow"), DiskFormat.QCOW2, false)).build();
        assertThat(validator.violations(def)).singleElement()
                .satisfies(v -> assertThat(v.field()).isEqualTo("disks[1].path"))
                .satisfies(v -> assertThat(v.message()).startsWith("is a qcow2 image that names a backing file '/etc/shadow';"));
    }

    @Test
    void anImageMustBeTheFormatItIsDeclaredAs() throws IOException {
        Path raw = file("plain.img", 4096, "\u00eb\u0063\u0090", new byte[0]);
        VmDefinition def = valid().withDisks(new Disk(raw, DiskFormat.QCOW2, false), new Disk(raw, DiskFormat.VHD, false),
                new Disk(raw, DiskFormat.VHDX, false), new Disk(raw, DiskFormat.RAW, false)).build();
        assertThat(validator.violations(def)).extracting(Violation::toString).containsExactly(
                "disks[0].path: is not a qcow2 image (it does not start with QFI\\xfb)",
                "disks[1].path: is not a VHD image (no \"conectix\" footer at its start or end)",
                "disks[2].path: is not a VHDX image (it does not start with \"vhdxfile\")");
    }

    @Test
    void aRawImageThatStartsWithAnotherFormatsHeaderIsRefused() throws IOException {
        VmDefinition def = valid().withDisks(new Disk(qcow2("raw-looking.img", null), DiskFormat.RAW, false),
                new Disk(file("vmdk.img", 1024, "# Disk DescriptorFile", new byte[0]), DiskFormat.RAW, false),
                new Disk(file("fixed.vhd", 4096, "", vhdFooter(VhdFooter.FIXED)), DiskFormat.RAW, false)).build();
        assertThat(validator.violations(def)).extracting(Violation::toString).containsExactly(
                "disks[0].path: is declared raw but starts with a qcow or qcow2 header, which names files of its own to"
                        + " any tool that probes it; declare its real format, or convert it to raw",
                "disks[1].path: is declared raw but starts with a VMDK descriptor header, which names files of its own to"
                        + " any tool that probes it; declare its real format, or convert it to raw");
    }

    @Test
    void anIsoIsCheckedLikeARawImage() throws IOException {
        VmDefinition def = valid().bootingFrom(new BootSource.Iso(qcow2("evil.iso", "/etc/shadow"))).build();
        assertThat(validator.violations(def)).extracting(Violation::field).containsExactly("boot.image");
    }

    @Test
    void aDifferencingVhdIsRefusedAndFixedAndDynamicOnesAreAttached() throws IOException {
        Path fixed = file("fixed.vhd", 4096, "", vhdFooter(VhdFooter.FIXED));
        byte[] dynamicFooter = vhdFooter(VhdFooter.DYNAMIC);
        Path dynamic = file("dynamic.vhd", 4096, new String(dynamicFooter, StandardCharsets.ISO_8859_1), dynamicFooter);
        byte[] childFooter = vhdFooter(VhdFooter.DIFFERENCING);
        Path child = file("child.vhd", 4096, new String(childFooter, StandardCharsets.ISO_8859_1), childFooter);
        VmDefinition def = valid().withDisks(new Disk(fixed, DiskFormat.VHD, false), new Disk(dynamic, DiskFormat.VHD, false),
                new Disk(child, DiskFormat.VHD, true)).build();
        assertThat(validator.violations(def)).singleElement()
                .satisfies(v -> assertThat(v.field()).isEqualTo("disks[2].path"))
                .satisfies(v -> assertThat(v.message()).startsWith("is a differencing VHD"));
    }

    @Test
    void macAddressesMustBeWellFormedUnicast() {
        VmDefinition def = valid().withNics(new Nic("52:54:00:12:34"), new Nic("01:00:5e:00:00:01"),
                new Nic("00:00:00:00:00:00")).build();
        assertThat(validator.violations(def)).extracting(Violation::field)
                .containsExactly("nics[0].mac", "nics[1].mac", "nics[2].mac");
    }

    @Test
    void eachAdapterHasAMacOfItsOwn() {
        VmDefinition def = valid().withNics(new Nic("52:54:00:12:34:56"), new Nic("52:54:00:12:34:58", "lab"),
                new Nic("52:54:00:12:34:56", "lab")).build();
        assertThat(validator.violations(def)).singleElement()
                .satisfies(v -> assertThat(v.field()).isEqualTo("nics[2].mac"))
                .satisfies(v -> assertThat(v.message()).startsWith("is already adapter 0's MAC"));
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
    void aCdRomDriveTakesALegacySlotAndIsNamedWhenItFindsNone() {
        Disk d = new Disk(disk, DiskFormat.QCOW2, false);
        assertThat(validator.violations(valid().legacy().withDisks(d, d, d).withCdRom(null).build())).isEmpty();
        assertThat(validator.violations(valid().legacy().withDisks(d, d, d, d).withCdRom(null).build())).singleElement()
                .satisfies(v -> assertThat(v.field()).isEqualTo("cdrom"))
                .satisfies(v -> assertThat(v.message()).contains("4 IDE slots"));
        assertThat(validator.violations(valid().withDisks(d, d, d, d).withCdRom(null).build()))
                .as("q35's AHCI controller has a port for it").isEmpty();
    }

    @Test
    void aCdRomsMediumIsAnIsoInsideTheStorageRootNeverAnotherFormat() throws IOException {
        Path iso = Files.write(root.resolve("tools.iso"), new byte[64 * 1024]);
        assertThat(validator.violations(valid().withCdRom(iso).build())).isEmpty();
        assertThat(validator.violations(valid().withCdRom(disk).build())).extracting(Violation::field)
                .containsExactly("cdrom.medium");
        assertThat(validator.violations(valid().withCdRom(tmp.resolve("outside.img")).build())).extracting(Violation::field)
                .containsExactly("cdrom.medium");
    }

    @Test
    void anIsoBootVmHasADriveHoldingItsImageAndOnceEjectedTheBootImageIsNoLongerNeeded() throws IOException {
        Path iso = Files.write(root.resolve("install.iso"), new byte[64 * 1024]);
        VmDefinition booting = valid().bootingFrom(new BootSource.Iso(iso)).build();
        assertThat(booting.cdrom()).isEqualTo(new CdRom(iso));
        Files.delete(iso);
        assertThat(validator.violations(booting)).extracting(Violation::field).containsExactly("boot.image");
        assertThat(validator.violations(booting.withCdRom(CdRom.EMPTY))).isEmpty();
    }

    @Test
    void uefiIsRefusedByItsFieldOnAHostWithoutUefiFirmware() throws IOException {
        VmDefinitionValidator noUefi = new VmDefinitionValidator(new StorageRoot(root), false);
        assertThat(noUefi.violations(valid().uefi().build())).singleElement().satisfies(v -> {
            assertThat(v.field()).isEqualTo("firmware");
            assertThat(v.message()).contains("OVMF").contains("choose BIOS");
        });
        assertThat(noUefi.violations(valid().build())).isEmpty();
    }

    @Test
    void uefiIsAllowedWithEitherProfileWhereTheHostHasIt() {
        assertThat(validator.violations(valid().uefi().build())).isEmpty();
        assertThat(validator.violations(valid().legacy().uefi().build())).isEmpty();
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
    void resourceControlsOutsideTheirRangesAreNamedByTheirFields() {
        VmDefinition def = valid().build().withResources(new Resources(0, 101, 257, 8, 1024L, 5));
        assertThat(validator.violations(def)).extracting(Violation::field).containsExactlyInAnyOrder("resources.cpuWeight",
                "resources.cpuCapPercent", "resources.memoryReservationMib", "resources.balloonTargetMib",
                "resources.diskBytesPerSecond", "resources.diskIops");
        assertThat(validator.violations(valid().build().withResources(new Resources(200, 50, 64, 128, 1L << 20, 100))))
                .isEmpty();
        assertThat(validator.violations(valid().legacy().build().withResources(new Resources(null, null, null, 128, null, null))))
                .singleElement().satisfies(v -> assertThat(v.message()).contains("enlightened"));
    }

    @Test
    void controlsTheHostCannotEnforceAreRefusedWithTheHostsReason() throws IOException {
        VmDefinitionValidator v1 = new VmDefinitionValidator(new StorageRoot(root), true, new ResourceSupport(
                Optional.of("no cpu controller"), Optional.of("cgroup v1 has no memory.low")));
        assertThat(v1.violations(valid().build().withResources(new Resources(200, 50, 64, null, 1L << 20, null))))
                .extracting(Violation::field, Violation::message).containsExactlyInAnyOrder(
                        tuple("resources.cpuWeight", "cannot be enforced on this host: no cpu controller"),
                        tuple("resources.cpuCapPercent", "cannot be enforced on this host: no cpu controller"),
                        tuple("resources.memoryReservationMib", "cannot be kept on this host: cgroup v1 has no memory.low"));
        // Disk limits are QEMU's own: any host keeps them.
        assertThat(v1.violations(valid().build().withResources(new Resources(null, null, null, null, 1L << 20, 100))))
                .isEmpty();
    }

    @Test
    void networkLimitsOutsideTheirRangeAreNamedAndThoseTheHostCannotEnforceCarryItsReason() throws IOException {
        VmDefinition tooSlow = valid().build().withResources(new Resources(null, null, null, null, null, null, 63_999L,
                100_000_000_001L));
        assertThat(validator.violations(tooSlow)).extracting(Violation::field, Violation::message).containsExactlyInAnyOrder(
                tuple("resources.networkReceiveBitsPerSecond", "must be 64000 (64 kbit/s) to 100000000000 (100 Gbit/s) bits per second"),
                tuple("resources.networkTransmitBitsPerSecond", "must be 64000 (64 kbit/s) to 100000000000 (100 Gbit/s) bits per second"));
        assertThat(validator.violations(valid().build().withResources(new Resources(null, null, null, null, null, null, 64_000L,
                100_000_000_000L)))).isEmpty();

        VmDefinitionValidator noPolicer = new VmDefinitionValidator(new StorageRoot(root), true, ResourceSupport.EVERYTHING
                .withNetwork(Optional.empty(), Optional.of("no act_police")));
        assertThat(noPolicer.violations(valid().build().withResources(new Resources(null, null, null, null, null, null,
                2_000_000L, 2_000_000L)))).extracting(Violation::field, Violation::message).containsExactly(
                        tuple("resources.networkTransmitBitsPerSecond", "cannot be enforced on this host: no act_police"));
        assertThat(VmDefinitionValidator.resourceRanges(new Resources(null, null, null, null, null, null, 1L, null), "vmResources"))
                .extracting(Violation::field).containsExactly("vmResources.networkReceiveBitsPerSecond");
    }

    @Test
    void validateThrowsWithEveryViolationInTheMessage() {
        assertThatThrownBy(() -> validator.validate(valid().withVcpus(0).withName(" ").build()))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("vcpus: must be between 1 and 64")
                .hasMessageContaining("name: is required");
    }

    @Test
    void aHostDeviceMustBeARawBlockDeviceGivenOnce() throws IOException {
        Path file = Files.write(tmp.resolve("not-a-device.img"), new byte[4096]);
        assertThat(validator.violations(valid().withDisks(Disk.hostDevice(file, false)).build()))
                .singleElement().satisfies(v -> {
                    assertThat(v.field()).isEqualTo("disks[0].device");
                    assertThat(v.message()).startsWith("is a regular file, not a block device");
                });
        Disk qcow2 = new Disk(Path.of("/dev/null"), DiskFormat.QCOW2, false, null, null, true);
        assertThat(validator.violations(valid().withDisks(qcow2).build())).extracting(Violation::field)
                .containsExactly("disks[0].format", "disks[0].device");
        Disk nullDevice = Disk.hostDevice(Path.of("/dev/null"), false);
        assertThat(validator.violations(valid().withDisks(nullDevice, nullDevice).build()))
                .extracting(Violation::field, Violation::message).contains(
                        tuple("disks[1].device", "is disks[0] already: a device is given to a VM once"));
    }
}
