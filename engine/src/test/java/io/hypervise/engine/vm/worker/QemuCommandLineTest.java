package io.hypervise.engine.vm.worker;

import static io.hypervise.engine.vm.definition.Definitions.aKernelVm;
import static io.hypervise.engine.vm.definition.Definitions.aVm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.host.Accelerator;
import io.hypervise.engine.host.UefiFirmware;
import io.hypervise.engine.network.VirtualSwitches;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class QemuCommandLineTest {

    private final QemuCommandLine tcg = new QemuCommandLine(Path.of("/usr/bin/qemu-system-x86_64"), Accelerator.TCG);
    private final VmFiles files = new VmFiles(Path.of("/state/vms/web-1"));
    private static final UefiFirmware OVMF = new UefiFirmware(Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"),
            Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd"));

    @Test
    void anEnlightenedVmGetsVirtioDevicesAndStartsPaused() {
        VmDefinition def = aKernelVm(Path.of("/s/vmlinuz"), Path.of("/s/initrd.img"), "console=ttyS0")
                .withDisks(new Disk(Path.of("/s/d.qcow2"), DiskFormat.QCOW2, false))
                .withNics(new Nic("52:54:00:00:00:01"))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).startsWith("/usr/bin/qemu-system-x86_64")
                .containsSequence("-machine", "q35")
                .containsSequence("-accel", "tcg")
                .contains("-S")
                .containsSequence("-device", "virtio-vga")
                .containsSequence("-device", "pcie-root-port,id=port-disk0,chassis=1",
                        "-device", "virtio-blk-pci,drive=disk0,id=dev-disk0,bus=port-disk0")
                .containsSequence("-device", "pcie-root-port,id=hotplug0,chassis=100")
                .containsSequence("-device", "pcie-root-port,id=port-net0,chassis=64",
                        "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,id=dev-net0,bus=port-net0")
                .containsSequence("-device", "virtio-balloon-pci,id=balloon0")
                .containsSequence("-netdev", "user,id=net0,restrict=on")
                .containsSequence("-kernel", "/s/vmlinuz", "-initrd", "/s/initrd.img", "-append", "console=ttyS0")
                .containsSequence("-qmp", "unix:/state/vms/web-1/run/qmp.sock,server=on,wait=off")
                .containsSequence("-vnc", "unix:/state/vms/web-1/run/vnc.sock")
                .doesNotContain("-incoming");
    }

    @Test
    void aVmWithoutMaximumsHasExactlyItsVcpusAndMemory() {
        List<String> args = tcg.build(aKernelVm(Path.of("/s/k"), null, "").withVcpus(2).withMemory(300).build(), files,
                p -> p, false);
        assertThat(args).containsSequence("-smp", "2").containsSequence("-m", "300M").noneMatch(a -> a.contains("dimm"));
    }

    @Test
    void roomToGrowIsMaxcpusAndDimmSlotsAndMemoryAddedWhileItRanIsOnTheCommandLineAsItsDimms() {
        VmDefinition room = aKernelVm(Path.of("/s/k"), null, "").withVcpus(1).withMemory(256).withMaximums(4, 1024).build();
        assertThat(tcg.build(room, files, p -> p, false)).containsSequence("-smp", "1,maxcpus=4")
                .containsSequence("-m", "256M,slots=8,maxmem=1024M").noneMatch(a -> a.contains("pc-dimm"));

        // 2 vCPUs (one added while it ran) and 640 MiB: 256 it started with, DIMMs of 128 and 256 added in that order.
        VmDefinition grown = aKernelVm(Path.of("/s/k"), null, "").withVcpus(2).withMemory(640).withMaximums(4, 1024)
                .withDimms(128, 256).build();
        assertThat(tcg.build(grown, files, p -> p, true)).containsSequence("-smp", "2,maxcpus=4")
                .containsSequence("-m", "256M,slots=8,maxmem=1024M")
                .containsSequence("-object", "memory-backend-ram,id=mem-dimm0,size=128M",
                        "-device", "pc-dimm,id=dimm0,memdev=mem-dimm0",
                        "-object", "memory-backend-ram,id=mem-dimm1,size=256M",
                        "-device", "pc-dimm,id=dimm1,memdev=mem-dimm1");

        // Grown to its maximums: the same machine, still with its slots.
        VmDefinition full = aKernelVm(Path.of("/s/k"), null, "").withVcpus(4).withMemory(384).withMaximums(4, 384)
                .withDimms(128).build();
        assertThat(tcg.build(full, files, p -> p, true)).containsSequence("-smp", "4")
                .containsSequence("-m", "256M,slots=8,maxmem=384M");
    }

    @Test
    void aDiskAddedWhileTheVmRanKeepsItsNameAndTheLegacyProfileHasNoHotplugPorts() {
        VmDefinition def = aKernelVm(Path.of("/s/k"), null, "")
                .withDisks(new Disk(Path.of("/s/a.qcow2"), DiskFormat.QCOW2, false),
                        new Disk(Path.of("/s/c.qcow2"), DiskFormat.QCOW2, false).withNode("disk7"))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).containsSequence("-device", "virtio-blk-pci,drive=disk7,id=dev-disk7,bus=port-disk7")
                .anyMatch(a -> a.contains("\"node-name\":\"disk7\"") && a.contains("/s/c.qcow2"));
        VmDefinition legacy = new VmDefinition(def.id(), def.name(), 1, 256, DeviceProfile.LEGACY, def.disks(), List.of(),
                def.boot(), def.display());
        assertThat(tcg.build(legacy, files, p -> p, false)).noneMatch(a -> a.startsWith("pcie-root-port"))
                .contains("ide-hd,drive=disk7,id=dev-disk7,bus=ide.0,unit=1");
    }

    @Test
    void aCdRomDriveIsEmptyOrHoldsItsIsoReadOnlyAsRawAndSitsAfterTheDisksOnTheLegacyProfile() {
        Disk d = new Disk(Path.of("/s/a.qcow2"), DiskFormat.QCOW2, false);
        List<String> empty = tcg.build(aKernelVm(Path.of("/s/k"), null, "").withCdRom(null).build(), files, p -> p, false);
        assertThat(empty).containsSequence("-device", "ide-cd,id=cdrom,bus=ide.0").noneMatch(a -> a.contains("cdrom0"));

        List<String> holding = tcg.build(aKernelVm(Path.of("/s/k"), null, "").legacy().withDisks(d, d, d)
                .withCdRom(Path.of("/s/tools.iso")).build(), files, p -> p, false);
        assertThat(holding).containsSequence("-blockdev", "{\"node-name\":\"cdrom0\",\"driver\":\"raw\",\"read-only\":true,"
                        + "\"file\":{\"driver\":\"file\",\"filename\":\"/s/tools.iso\",\"read-only\":true}}")
                .containsSequence("-device", "ide-cd,id=cdrom,drive=cdrom0,bus=ide.1,unit=1")
                .as("only a VM that boots from an ISO boots from its drive").noneMatch(a -> a.contains("bootindex"));
        assertThat(tcg.build(aKernelVm(Path.of("/s/k"), null, "").build(), files, p -> p, false))
                .noneMatch(a -> a.startsWith("ide-cd"));
    }

    @Test
    void anAdapterOnASwitchOpensItsPortTheEngineMadeAndRunsNoScript() {
        VmDefinition def = aKernelVm(Path.of("/s/k"), null, "")
                .withNics(new Nic("52:54:00:00:00:01"), new Nic("52:54:00:00:00:02", "lab"))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).containsSequence("-netdev", "user,id=net0,restrict=on")
                .containsSequence("-netdev", "tap,id=net1,ifname=" + VirtualSwitches.portName("web-1", 1)
                        + ",script=no,downscript=no")
                .containsSequence("-device", "virtio-net-pci,netdev=net1,mac=52:54:00:00:00:02,id=dev-net1,bus=port-net1");
    }

    @Test
    void anAdapterAddedWhileTheVmRanKeepsItsNameAndItsPortsNumber() {
        VmDefinition def = aKernelVm(Path.of("/s/k"), null, "")
                .withNics(new Nic("52:54:00:00:00:01", "lab", null, "net2"))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).containsSequence("-netdev", "tap,id=net2,ifname=" + VirtualSwitches.portName("web-1", 2)
                        + ",script=no,downscript=no")
                .containsSequence("-device", "pcie-root-port,id=port-net2,chassis=66",
                        "-device", "virtio-net-pci,netdev=net2,mac=52:54:00:00:00:01,id=dev-net2,bus=port-net2");
    }

    @Test
    void theDiskFormatIsAlwaysExplicitAndPathsNeedNoEscapingInJson() {
        VmDefinition def = aKernelVm(Path.of("/s/k"), null, "")
                .withDisks(new Disk(Path.of("/s/odd,name.img"), DiskFormat.RAW, true))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).contains("{\"node-name\":\"disk0\",\"driver\":\"raw\",\"read-only\":true,"
                + "\"file\":{\"driver\":\"file\",\"filename\":\"/s/odd,name.img\",\"read-only\":true}}");
        assertThat(args).doesNotContain("-append");
    }

    @Test
    void aHostDeviceIsOpenedRawWithoutTheHostsCacheAndNeverProbed() {
        VmDefinition def = aKernelVm(Path.of("/s/k"), null, "")
                .withDisks(Disk.hostDevice(Path.of("/dev/loop3"), false))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).contains("{\"node-name\":\"disk0\",\"driver\":\"raw\",\"read-only\":false,"
                + "\"cache\":{\"direct\":true,\"no-flush\":false},\"file\":{\"driver\":\"host_device\","
                + "\"filename\":\"/dev/loop3\",\"aio\":\"native\",\"read-only\":false,"
                + "\"cache\":{\"direct\":true,\"no-flush\":false}}}")
                .containsSequence("-device", "virtio-blk-pci,drive=disk0,id=dev-disk0,bus=port-disk0");
    }

    @Test
    void aQcow2DiskIsToldItHasNoBackingFileSoQemuFollowsNoChainFromItsHeader() {
        VmDefinition def = aKernelVm(Path.of("/s/k"), null, "")
                .withDisks(new Disk(Path.of("/s/d.qcow2"), DiskFormat.QCOW2, false))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).contains("{\"node-name\":\"disk0\",\"driver\":\"qcow2\",\"read-only\":false,"
                + "\"file\":{\"driver\":\"file\",\"filename\":\"/s/d.qcow2\"},\"backing\":null}");
    }

    @Test
    void aLegacyVmGetsEmulatedDevices() {
        VmDefinition def = aKernelVm(Path.of("/s/k"), null, "")
                .legacy()
                .withDisks(new Disk(Path.of("/s/a.vhd"), DiskFormat.VHD, false), new Disk(Path.of("/s/b.img"), DiskFormat.RAW, false),
                        new Disk(Path.of("/s/c.img"), DiskFormat.RAW, false))
                .withNics(new Nic("52:54:00:00:00:02"))
                .build();
        List<String> args = tcg.build(def, files, p -> p, false);
        assertThat(args).containsSequence("-machine", "pc")
                .containsSequence("-device", "VGA")
                .containsSequence("-device", "ide-hd,drive=disk0,id=dev-disk0,bus=ide.0,unit=0")
                .containsSequence("-device", "ide-hd,drive=disk2,id=dev-disk2,bus=ide.1,unit=0")
                .containsSequence("-device", "e1000,netdev=net0,mac=52:54:00:00:00:02,id=dev-net0")
                .doesNotContain("virtio-tablet-pci")
                .doesNotContain("virtio-balloon-pci,id=balloon0");
        assertThat(String.join(" ", args)).contains("\"driver\":\"vpc\"");
    }

    @Test
    void aBiosVmHasNoFirmwareFlash() {
        QemuCommandLine withUefi = new QemuCommandLine(Path.of("qemu"), Accelerator.TCG, Optional.of(OVMF));
        List<String> args = withUefi.build(aKernelVm(Path.of("/s/k"), null, "").build(), files, p -> p, false);
        assertThat(args).containsSequence("-machine", "q35");
        assertThat(String.join(" ", args)).doesNotContain("pflash").doesNotContain("OVMF").doesNotContain("uefi-vars");
    }

    @Test
    void aUefiVmRunsTheSharedCodeReadOnlyAndItsOwnVariables() {
        QemuCommandLine withUefi = new QemuCommandLine(Path.of("qemu"), Accelerator.TCG, Optional.of(OVMF));
        VmDefinition def = aVm(new BootSource.Iso(Path.of("/s/install.iso"))).uefi().build();
        List<String> args = withUefi.build(def, files, p -> p, false);
        assertThat(args).containsSequence("-machine", "q35,pflash0=firmware-code,pflash1=firmware-vars")
                .containsSequence("-blockdev", "{\"node-name\":\"firmware-code\",\"driver\":\"raw\",\"read-only\":true,"
                        + "\"file\":{\"driver\":\"file\",\"filename\":\"/usr/share/OVMF/OVMF_CODE_4M.fd\",\"read-only\":true}}")
                .containsSequence("-blockdev", "{\"node-name\":\"firmware-vars\",\"driver\":\"raw\",\"read-only\":false,"
                        + "\"file\":{\"driver\":\"file\",\"filename\":\"/state/vms/web-1/uefi-vars.fd\"}}")
                .containsSequence("-device", "ide-cd,id=cdrom,drive=cdrom0,bus=ide.0,bootindex=0");
        assertThat(String.join(" ", args)).as("the template is never handed to a VM").doesNotContain("OVMF_VARS");
    }

    @Test
    void aLegacyUefiVmMapsTheFlashOnTheI440fxMachine() {
        QemuCommandLine withUefi = new QemuCommandLine(Path.of("qemu"), Accelerator.TCG, Optional.of(OVMF));
        List<String> args = withUefi.build(aKernelVm(Path.of("/s/k"), null, "").legacy().uefi().build(), files,
                p -> p, false);
        assertThat(args).containsSequence("-machine", "pc,pflash0=firmware-code,pflash1=firmware-vars");
    }

    @Test
    void aUefiVmCannotBeBuiltForAHostWithoutUefiFirmware() {
        assertThatThrownBy(() -> tcg.build(aKernelVm(Path.of("/s/k"), null, "").uefi().build(), files, p -> p, false))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no UEFI firmware");
    }

    @Test
    void aRestoringWorkerWaitsForItsState() {
        List<String> args = tcg.build(aKernelVm(Path.of("/s/k"), null, "").build(), files, p -> p, true);
        assertThat(args).containsSequence("-incoming", "defer");
    }

    @Test
    void commasInOptionValuesAreDoubled() {
        List<String> args = tcg.build(aKernelVm(Path.of("/s/k"), null, "").build(),
                new VmFiles(Path.of("/odd,dir/vms/web-1")), p -> p, false);
        assertThat(args).contains("unix:/odd,,dir/vms/web-1/run/qmp.sock,server=on,wait=off");
    }

    @Test
    void lineBreaksCannotBeSmuggledIntoAnOption() {
        assertThatThrownBy(() -> QemuArgs.optionValue("a\nb")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void kvmHostsPassTheHostCpuThrough() {
        List<String> args = new QemuCommandLine(Path.of("qemu"), Accelerator.KVM)
                .build(aKernelVm(Path.of("/s/k"), null, "").withDisplay(Display.NONE).build(), files, p -> p, false);
        assertThat(args).containsSequence("-accel", "kvm").containsSequence("-cpu", "host").doesNotContain("-vnc");
    }
}
