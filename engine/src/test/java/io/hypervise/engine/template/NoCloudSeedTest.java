package io.hypervise.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NoCloudSeedTest {

    private static final String KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ8m2ZB9PGe6T2J0mXHDdwZ2K1Jf6rB8xQbX1t3m2aZ it's me";
    private static final String HASH = "$6$salt$abc./def";

    @Test
    void metaDataNamesTheInstanceAndTheHost() {
        NoCloudSeed seed = new NoCloudSeed("iid-1", "web-1", Optional.empty());
        assertThat(seed.metaData()).isEqualTo("instance-id: iid-1\nlocal-hostname: web-1\n");
        assertThat(seed.userData()).isEqualTo("#cloud-config\n");
    }

    @Test
    void userDataIsCloudConfigWithQuotedValues() {
        NoCloudSeed seed = new NoCloudSeed("iid-1", "web-1",
                Optional.of(new NoCloudSeed.User("debian", List.of(KEY), Optional.of(HASH), true)));
        assertThat(seed.userData()).isEqualTo("""
                #cloud-config
                users:
                  - name: 'debian'
                    shell: /bin/bash
                    lock_passwd: false
                    hashed_passwd: '$6$salt$abc./def'
                    sudo: 'ALL=(ALL) NOPASSWD:ALL'
                    ssh_authorized_keys:
                      - 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ8m2ZB9PGe6T2J0mXHDdwZ2K1Jf6rB8xQbX1t3m2aZ it''s me'
                """);
    }

    @Test
    void withoutAPasswordThePasswordStaysLocked() {
        NoCloudSeed seed = new NoCloudSeed("iid-1", "web-1",
                Optional.of(new NoCloudSeed.User("ops", List.of(KEY), Optional.empty(), false)));
        assertThat(seed.userData()).contains("lock_passwd: true").doesNotContain("hashed_passwd").doesNotContain("sudo");
    }

    @Test
    void valuesThatCouldBreakTheFilesAreRefused() {
        assertThatThrownBy(() -> new NoCloudSeed("iid-1", "web_1", Optional.empty())).hasMessageContaining("host name");
        assertThatThrownBy(() -> new NoCloudSeed("iid 1", "web-1", Optional.empty())).hasMessageContaining("instance id");
        assertThatThrownBy(() -> new NoCloudSeed.User("Root", List.of(), Optional.empty(), false))
                .hasMessageContaining("login name");
        assertThatThrownBy(() -> new NoCloudSeed.User("ops", List.of(KEY + "\nssh-rsa AAAA evil"), Optional.empty(), false))
                .hasMessageContaining("SSH public key");
        assertThatThrownBy(() -> new NoCloudSeed.User("ops", List.of(), Optional.of("secret"), false))
                .hasMessageContaining("crypt(3)");
    }

    @Test
    void theVolumeIsAFatFilesystemLabelledCidataHoldingBothFiles(@TempDir Path dir) throws Exception {
        NoCloudSeed seed = new NoCloudSeed("iid-7", "web-7",
                Optional.of(new NoCloudSeed.User("debian", List.of(KEY), Optional.of(HASH), true)));
        Path image = dir.resolve("seed.img");

        seed.writeVfat(image);

        assertThat(Files.size(image)).isEqualTo(1 << 20);
        HostTools tools = new HostTools("reading the seed back");
        assertThat(tools.run(java.time.Duration.ofMinutes(1), List.of("mlabel", "-s", "-i", image.toString(), "::")))
                .containsIgnoringCase("cidata");
        assertThat(tools.run(java.time.Duration.ofMinutes(1), List.of("mtype", "-i", image.toString(), "::meta-data")))
                .isEqualTo(seed.metaData());
        assertThat(tools.run(java.time.Duration.ofMinutes(1), List.of("mtype", "-i", image.toString(), "::user-data")))
                .isEqualTo(seed.userData());
        try (var left = Files.list(dir)) {
            assertThat(left).as("no temporary files left").containsExactly(image);
        }
    }
}
