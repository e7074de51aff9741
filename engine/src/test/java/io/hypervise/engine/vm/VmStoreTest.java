package io.hypervise.engine.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.hypervise.engine.host.UefiFirmware;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.Definitions;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.engine.vm.definition.VmDefinition;
import io.hypervise.engine.vm.worker.VmFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmStoreTest {

    @TempDir
    Path tmp;

    @Test
    void aDefinitionStoredBeforeVmsHadFirmwareReadsAsBios() throws IOException {
        VmStore store = new VmStore(tmp);
        VmFiles files = store.filesOf("old-1");
        store.create(files);
        // definition.json as an engine without the firmware choice wrote it
        Files.writeString(files.definition(), """
                {"id":"old-1","name":"old 1","vcpus":1,"memoryMib":256,"profile":"LEGACY","disks":[],"nics":[],
                 "boot":{"kind":"iso","image":"/s/install.iso"},"display":"VNC"}
                """);
        VmDefinition def = store.readDefinition(files).orElseThrow();
        assertThat(def.firmware()).isEqualTo(Firmware.BIOS);
        assertThat(def.boot()).isEqualTo(new BootSource.Iso(Path.of("/s/install.iso")));
    }

    @Test
    void aUefiDefinitionKeepsItsFirmware() throws IOException {
        VmStore store = new VmStore(tmp);
        VmFiles files = store.filesOf("new-1");
        store.create(files);
        VmDefinition def = Definitions.aVm(new BootSource.FirstDisk()).withId("new-1").uefi().build();
        store.writeDefinition(files, def);
        assertThat(store.readDefinition(files)).contains(def);
    }

    @Test
    void eachVmGetsItsOwnCopyOfTheUefiVariablesOnceAndLosesItWithTheVm() throws IOException {
        Path template = Files.writeString(tmp.resolve("OVMF_VARS_4M.fd"), "empty store");
        UefiFirmware firmware = new UefiFirmware(tmp.resolve("OVMF_CODE_4M.fd"), template);
        VmStore store = new VmStore(tmp.resolve("state"));
        VmFiles a = store.filesOf("a");
        VmFiles b = store.filesOf("b");
        store.create(a);
        store.create(b);
        store.ensureUefiVariables(a, firmware);
        store.ensureUefiVariables(b, firmware);
        assertThat(a.uefiVariables()).hasContent("empty store");
        assertThat(Files.isSameFile(a.uefiVariables(), b.uefiVariables())).isFalse();

        Files.writeString(a.uefiVariables(), "boot entries");
        store.ensureUefiVariables(a, firmware);
        assertThat(a.uefiVariables()).as("what the firmware wrote stays").hasContent("boot entries");
        assertThat(template).hasContent("empty store");

        store.delete(a);
        assertThat(a.uefiVariables()).doesNotExist();
        assertThat(b.uefiVariables()).exists();
    }
}
