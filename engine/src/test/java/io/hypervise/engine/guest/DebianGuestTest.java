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
 * console, which names the seeded host. BIOS through the engine here; the server's DebianTemplateTest
 * boots the same disk under UEFI through the whole stack.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DebianGuestTest {

    /** Typically 60 to 90 s under TCG on two shared cores; the margin is for a busy machine. */
    private static final Duration BOOT = Duration.ofMinutes(6);
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
}
