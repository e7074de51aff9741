package io.hypervise.engine.vm.definition;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.nio.file.Path;

/** Where a VM boots from. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "kind")
@JsonSubTypes({
    @JsonSubTypes.Type(value = BootSource.Kernel.class, name = "kernel"),
    @JsonSubTypes.Type(value = BootSource.FirstDisk.class, name = "disk"),
    @JsonSubTypes.Type(value = BootSource.Iso.class, name = "iso")
})
public sealed interface BootSource {

    /** Direct kernel boot: the firmware hands control straight to a kernel and its initramfs. */
    record Kernel(Path kernel, Path initramfs, String commandLine) implements BootSource {
    }

    /** Boot from the VM's first disk through the firmware. */
    record FirstDisk() implements BootSource {
    }

    /** Boot from an ISO image attached as a CD-ROM drive. */
    record Iso(Path image) implements BootSource {
    }
}
