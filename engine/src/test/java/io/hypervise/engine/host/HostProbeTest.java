package io.hypervise.engine.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.host.HostProbe.Decision;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostProbeTest {

    @TempDir
    Path tmp;

    @Test
    void kvmNeedsBothTheDeviceAndHardwareVirtualization() {
        assertThat(HostProbe.decide(AcceleratorChoice.AUTO, true, true).accelerator()).isEqualTo(Accelerator.KVM);
        assertThat(HostProbe.decide(AcceleratorChoice.AUTO, true, false))
                .isEqualTo(new Decision(Accelerator.TCG, "/dev/kvm exists but the CPU advertises neither vmx nor svm"));
        assertThat(HostProbe.decide(AcceleratorChoice.AUTO, false, true).accelerator()).isEqualTo(Accelerator.TCG);
    }

    @Test
    void operatorsCanForceEitherAccelerator() {
        assertThat(HostProbe.decide(AcceleratorChoice.KVM, false, false).accelerator()).isEqualTo(Accelerator.KVM);
        assertThat(HostProbe.decide(AcceleratorChoice.TCG, true, true).accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(AcceleratorChoice.parse(" Kvm ")).isEqualTo(AcceleratorChoice.KVM);
        assertThatThrownBy(() -> AcceleratorChoice.parse("hvf")).hasMessageContaining("auto, kvm, tcg");
    }

    @Test
    void cpuFlagsAreReadAsWholeWords() {
        assertThat(HostProbe.hasHardwareVirtualization("flags\t\t: fpu vme svm sse\n")).isTrue();
        assertThat(HostProbe.hasHardwareVirtualization("flags\t\t: fpu vmx\n")).isTrue();
        assertThat(HostProbe.hasHardwareVirtualization("flags\t\t: fpu vmxnet svm_lock\n")).isFalse();
    }

    @Test
    void aHostWithoutVirtualizationFlagsGetsTcg() throws IOException {
        Path proc = Files.createDirectories(tmp.resolve("proc"));
        Files.writeString(proc.resolve("cpuinfo"), "model name\t: Test CPU\nflags\t\t: fpu sse2\n");
        Files.writeString(proc.resolve("meminfo"), "MemTotal:       2048 kB\n");
        Path kvm = Files.writeString(tmp.resolve("kvm"), "");
        HostCapabilities caps = new HostProbe(proc, kvm).probe(tmp.resolve("no-qemu"), AcceleratorChoice.AUTO);
        assertThat(caps.accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(caps.kvmDevicePresent()).isTrue();
        assertThat(caps.cpuModel()).isEqualTo("Test CPU");
        assertThat(caps.memoryBytes()).isEqualTo(2048 * 1024);
        assertThat(caps.qemuVersion()).startsWith("not found");
    }

    @Test
    void uefiFirmwareIsReportedOnlyWithCodeAndVariablesOfOneSize() throws IOException {
        Path proc = Files.createDirectories(tmp.resolve("proc3"));
        Files.writeString(proc.resolve("cpuinfo"), "flags\t\t: fpu\n");
        Path ovmf = Files.createDirectories(tmp.resolve("OVMF"));
        HostProbe probe = new HostProbe(proc, tmp.resolve("kvm"), ovmf);
        Files.writeString(ovmf.resolve("OVMF_CODE_4M.fd"), "code");
        Files.writeString(ovmf.resolve("OVMF_VARS.fd"), "2 MiB vars");
        assertThat(probe.probe(tmp.resolve("no-qemu"), AcceleratorChoice.AUTO).uefiAvailable())
                .as("4 MiB code with 2 MiB variables").isFalse();

        Files.writeString(ovmf.resolve("OVMF_VARS_4M.fd"), "vars");
        HostCapabilities caps = probe.probe(tmp.resolve("no-qemu"), AcceleratorChoice.AUTO);
        assertThat(caps.uefiFirmware()).contains(
                new UefiFirmware(ovmf.resolve("OVMF_CODE_4M.fd"), ovmf.resolve("OVMF_VARS_4M.fd")));
    }

    @Test
    void loadComesFromLoadavgMeminfoAndTheStorageFileSystem() throws IOException {
        Path proc = Files.createDirectories(tmp.resolve("proc2"));
        Files.writeString(proc.resolve("cpuinfo"), "flags\t\t: fpu\n");
        Files.writeString(proc.resolve("meminfo"), "MemTotal:       4096 kB\nMemFree:  100 kB\nMemAvailable:   1024 kB\n");
        Files.writeString(proc.resolve("loadavg"), "0.52 1.25 2.00 1/234 5678\n");
        HostLoad load = new HostProbe(proc, tmp.resolve("kvm")).load(tmp);
        assertThat(load.load1()).isEqualTo(0.52);
        assertThat(load.load15()).isEqualTo(2.0);
        assertThat(load.memoryTotalBytes()).isEqualTo(4096 * 1024);
        assertThat(load.memoryAvailableBytes()).isEqualTo(1024 * 1024);
        assertThat(load.storageTotalBytes()).isGreaterThan(0).isGreaterThanOrEqualTo(load.storageFreeBytes());
    }

    @Test
    void theQemuVersionIsReadFromItsBanner() {
        assertThat(HostProbe.parseQemuVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"))
                .isEqualTo("7.2.22");
    }

    @Test
    void thisMachineGetsTcg() {
        // The machines this project is built on have a /dev/kvm that cannot run a stock kernel and no vmx/svm.
        HostCapabilities caps = new HostProbe().probe(Path.of("/usr/bin/qemu-system-x86_64"), AcceleratorChoice.AUTO);
        if (!caps.hardwareVirtualization()) {
            assertThat(caps.accelerator()).isEqualTo(Accelerator.TCG);
        } else {
            assertThat(caps.accelerator()).isEqualTo(caps.kvmDevicePresent() ? Accelerator.KVM : Accelerator.TCG);
        }
    }
}
