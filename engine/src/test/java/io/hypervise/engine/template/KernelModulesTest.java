package io.hypervise.engine.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KernelModulesTest {

    // The shape of Debian 6.1's real dependencies for two of the template's modules.
    private static final Map<String, List<String>> DEBIAN = Map.of(
            "virtio_blk", List.of("virtio", "virtio_ring"),
            "virtio_net", List.of("virtio_ring", "virtio", "net_failover"),
            "net_failover", List.of("failover"),
            "failover", List.of(),
            "virtio", List.of(),
            "virtio_ring", List.of(),
            "sd_mod", List.of("scsi_mod", "t10-pi"),
            "t10_pi", List.of("crc64_rocksoft"),
            "crc64_rocksoft", List.of(),
            "scsi_mod", List.of());

    @Test
    void loadsEveryModuleAfterWhatItDependsOnAndEachOnce() throws IOException {
        List<String> order = KernelModules.loadOrder(List.of("virtio_blk", "virtio_net", "sd_mod"), DEBIAN::get);

        assertThat(order).containsExactly("virtio", "virtio_ring", "virtio_blk", "failover", "net_failover",
                "virtio_net", "scsi_mod", "crc64_rocksoft", "t10_pi", "sd_mod");
    }

    @Test
    void treatsDashAndUnderscoreAsTheSameName() throws IOException {
        assertThat(KernelModules.loadOrder(List.of("virtio-blk"), DEBIAN::get)).endsWith("virtio_blk");
    }

    @Test
    void namesTheMissingModuleAndWhoNeedsIt() {
        assertThatThrownBy(() -> KernelModules.loadOrder(List.of("sd_mod"), name -> name.equals("t10_pi") ? null : DEBIAN.get(name)))
                .hasMessageContaining("kernel module t10_pi (needed by sd_mod) is not in the kernel package");
    }

    @Test
    void refusesADependencyCycleInsteadOfLoopingForever() {
        Map<String, List<String>> cycle = Map.of("a", List.of("b"), "b", List.of("a"));
        assertThatThrownBy(() -> KernelModules.loadOrder(List.of("a"), cycle::get)).hasMessageContaining("cycle");
    }
}
