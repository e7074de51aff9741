package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.Engine;
import io.hypervise.engine.template.DebianTemplate;
import io.hypervise.engine.template.NoCloudSeed;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.Definitions;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.Nic;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The debian-12 template booted for real under QEMU (TCG here): through the firmware into its own GRUB
 * and kernel, taking its host name and user from a NoCloud seed, up to the login prompt on the serial
 * console, which names the seeded host. BIOS through the engine; UEFI (OVMF) on a bare QEMU command line
 * until the engine boots VMs with UEFI firmware.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DebianGuestTest {

    /** Typically 60 to 90 s under TCG on two shared cores; the margin is for a busy machine. */
    private static final Duration BOOT = Duration.ofMinutes(6);
    private static final Path OVMF = Path.of("/usr/share/qemu/OVMF.fd");
    private static final String KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ8m2ZB9PGe6T2J0mXHDdwZ2K1Jf6rB8xQbX1t3m2aZ hv@test";
    /** openssl passwd -6 -salt hypervise hypervise */
    private static final String PASSWORD_HASH =
            "$6$hypervise$GEkDH8BG1BYPV3FSfATfRCXJ8c4md1zm9f9hYb.5l.U89VqpC6MVMYqzOwXDk.bLz1HQXoeWt6efOjZzUxzGx1";

    private TestHost host;
    private DebianTemplate.Built template;

    @BeforeAll
    void buildTheTemplate() throws Exception {
        long start = System.nanoTime();
        template = TestHost.debianTemplate();
        System.out.printf("[debian-12] template ready in %d s: %s, %d MiB on disk, %d MiB virtual%n",
                Duration.ofNanos(System.nanoTime() - start).toSeconds(), template.disk(),
                Files.size(template.disk()) >> 20, template.virtualSizeBytes() >> 20);
        host = TestHost.create();
    }

    @AfterAll
    void leaveNothingBehind() throws Exception {
        if (host != null) {
            host.close();
        }
    }

    @Test
    void bootsFromItsOwnDiskThroughBiosAndGreetsWithTheSeededHostName() throws Exception {
        String hostName = randomHostName();
        Path disk = copyOfTheTemplate("bios.qcow2");
        Path seed = seed(hostName, "bios-seed.img");
        try (Engine engine = host.openEngine()) {
            engine.vms().define(Definitions.aVm(new BootSource.FirstDisk()).withId("deb-bios").withName("deb-bios")
                    .withMemory(512)
                    .withDisks(new Disk(disk, DiskFormat.QCOW2, false), new Disk(seed, DiskFormat.RAW, true))
                    .withNics(new Nic("52:54:00:de:b1:01"))
                    .build());
            SerialConsole serial = new SerialConsole(engine.vms().serialLog("deb-bios"));
            long start = System.nanoTime();
            engine.vms().start("deb-bios");
            serial.awaitText(hostName + " login:", BOOT);
            System.out.printf("[debian-12] BIOS boot to the login prompt: %d s%n",
                    Duration.ofNanos(System.nanoTime() - start).toSeconds());
            assertThat(serial.text()).contains("Booting `Debian GNU/Linux 12'")
                    .contains("hypervise-seed: host name " + hostName)
                    .contains("hypervise-seed: user " + DebianTemplate.DEFAULT_USER);
            engine.vms().turnOff("deb-bios");
        }
    }

    @Test
    void theSameDiskBootsThroughUefiFirmware() throws Exception {
        String hostName = randomHostName();
        Path disk = copyOfTheTemplate("uefi.qcow2");
        Path seed = seed(hostName, "uefi-seed.img");
        Path log = host.storageRoot().resolve("uefi-serial.log");
        Process qemu = new ProcessBuilder(List.of("qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max",
                "-m", "512", "-nodefaults", "-no-user-config", "-display", "none", "-bios", OVMF.toString(),
                "-chardev", "file,id=serial0,path=" + log, "-serial", "chardev:serial0",
                "-blockdev", blockdev("disk0", "qcow2", disk, false), "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
                "-blockdev", blockdev("seed0", "raw", seed, true), "-device", "virtio-blk-pci,drive=seed0"))
                .redirectErrorStream(true).redirectOutput(host.storageRoot().resolve("uefi-qemu.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        try {
            long start = System.nanoTime();
            SerialConsole serial = new SerialConsole(log);
            serial.awaitText(hostName + " login:", BOOT);
            System.out.printf("[debian-12] UEFI boot to the login prompt: %d s%n",
                    Duration.ofNanos(System.nanoTime() - start).toSeconds());
            assertThat(serial.text()).contains("hypervise-seed: host name " + hostName);
        } finally {
            qemu.destroyForcibly();
            qemu.onExit().join();
        }
    }

    private Path copyOfTheTemplate(String name) throws Exception {
        return Files.copy(template.disk(), host.storageRoot().resolve(name));
    }

    private Path seed(String hostName, String name) throws Exception {
        Path image = host.storageRoot().resolve(name);
        NoCloudSeed.of(hostName, Optional.of(new NoCloudSeed.User(DebianTemplate.DEFAULT_USER, List.of(KEY),
                Optional.of(PASSWORD_HASH), true))).writeVfat(image);
        return image;
    }

    private static String randomHostName() {
        return "hv-test-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    }

    private static String blockdev(String node, String format, Path file, boolean readOnly) {
        return "{\"node-name\":\"" + node + "\",\"driver\":\"" + format + "\",\"read-only\":" + readOnly
                + ",\"file\":{\"driver\":\"file\",\"filename\":\"" + file + "\",\"read-only\":" + readOnly + "}}";
    }
}
