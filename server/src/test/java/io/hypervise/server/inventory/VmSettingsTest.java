package io.hypervise.server.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.DeviceProfile;
import io.hypervise.engine.vm.definition.Display;
import io.hypervise.engine.vm.definition.Nic;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a settings change does to a VM's definition, and what the audit entry says changed: without a server. */
class VmSettingsTest {

    private static final VmDefinition WEB = new VmDefinition("vm-1", "web-1", 1, 256, DeviceProfile.ENLIGHTENED, List.of(),
            List.of(new Nic("52:54:00:00:00:01", "lab", 10)), new BootSource.Kernel(Path.of("/k"), null, ""), Display.VNC);

    @Test
    void onlyTheFieldsGivenChangeAndTheChangesSayFromWhatToWhat() {
        VmSettings bigger = new VmSettings(null, 2, 512, null, null, null);
        VmDefinition after = bigger.applyTo(WEB);
        assertThat(after.name()).isEqualTo("web-1");
        assertThat(after.nics()).isEqualTo(WEB.nics());
        Map<String, Object> changes = bigger.changes(WEB, after);
        assertThat(changes.keySet()).containsExactly("vcpus", "memoryMib");
        assertThat(changes.get("memoryMib")).isEqualTo(Map.of("from", 256, "to", 512));
    }

    @Test
    void settingsThatAreAlreadyTheVmsAreNoChange() {
        VmSettings same = new VmSettings("web-1", 1, 256, DeviceProfile.ENLIGHTENED, Display.VNC, null);
        assertThat(same.changes(WEB, same.applyTo(WEB))).isEmpty();
    }

    @Test
    void anAdapterMovedToAnotherSwitchKeepsItsMacAndANewOneGetsItsOwn() {
        VmSettings moved = new VmSettings(null, null, null, null, null, List.of(new Nic(null, null, null), new Nic(null, "lab", 20)));
        VmDefinition after = moved.applyTo(WEB);
        assertThat(after.nics().get(0).mac()).isEqualTo("52:54:00:00:00:01");
        assertThat(after.nics().get(0).switchId()).isNull();
        assertThat(after.nics().get(1).mac()).isNotEqualTo("52:54:00:00:00:01").startsWith("52:54:00:");
        assertThat(moved.changes(WEB, after)).containsOnlyKeys("nics");
    }
}
