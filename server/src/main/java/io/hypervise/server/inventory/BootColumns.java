package io.hypervise.server.inventory;

import io.hypervise.engine.vm.definition.BootSource;
import jakarta.persistence.Column;
import jakarta.persistence.Embeddable;
import java.nio.file.Path;

/** What a VM or a template boots from, as the boot_* columns of the vms and templates tables keep it. */
@Embeddable
public class BootColumns {

    @Column(name = "boot_kind")
    public String kind;
    @Column(name = "boot_kernel")
    public String kernel;
    @Column(name = "boot_initramfs")
    public String initramfs;
    @Column(name = "boot_command_line")
    public String commandLine;
    @Column(name = "boot_image")
    public String image;

    public static BootColumns of(BootSource source) {
        BootColumns c = new BootColumns();
        switch (source) {
            case BootSource.Kernel k -> {
                c.kind = "KERNEL";
                c.kernel = k.kernel().toString();
                c.initramfs = k.initramfs() == null ? null : k.initramfs().toString();
                c.commandLine = k.commandLine();
            }
            case BootSource.Iso iso -> {
                c.kind = "ISO";
                c.image = iso.image().toString();
            }
            case BootSource.FirstDisk d -> c.kind = "DISK";
        }
        return c;
    }

    public BootSource toBootSource() {
        return switch (kind) {
            case "KERNEL" -> new BootSource.Kernel(Path.of(kernel), initramfs == null ? null : Path.of(initramfs), commandLine);
            case "ISO" -> new BootSource.Iso(Path.of(image));
            default -> new BootSource.FirstDisk();
        };
    }

}
