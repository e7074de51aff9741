package io.hypervise.server.ui;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.server.api.InvalidRequestException;
import io.hypervise.server.vm.VmRequest;
import org.junit.jupiter.api.Test;

/** The wizard's fields as the API's request, for each place a VM may start from. */
class NewVmFieldsTest {

    @Test
    void aTemplateStaysATemplateWithTheFirmwareChosen() {
        NewVmFields f = fields("template");
        f.template = "tiny-linux";
        f.firmware = "uefi";
        f.libraryDisk = "lib-0123456789ab"; // a hidden field the browser did not send is ignored if it did
        VmRequest r = f.toRequest();
        assertThat(r.template()).isEqualTo("tiny-linux");
        assertThat(r.boot()).isNull();
        assertThat(r.disks()).isEmpty();
        assertThat(r.firmware()).isEqualTo("uefi");
    }

    @Test
    void aLibraryDiskBecomesTheFirstDiskAsALinkedCloneOrACopyAndIsBootedFrom() {
        NewVmFields f = fields("library-disk");
        f.template = "tiny-linux";
        f.libraryDisk = "lib-0123456789ab";
        f.clone = "full";
        f.diskMib = "64";
        VmRequest r = f.toRequest();
        assertThat(r.template()).as("no template with another source").isNull();
        assertThat(r.boot().kind()).isEqualTo("disk");
        assertThat(r.disks()).hasSize(2);
        assertThat(r.disks().getFirst().library()).isEqualTo("lib-0123456789ab");
        assertThat(r.disks().getFirst().cloning()).isEqualTo("full");
        assertThat(r.disks().get(1).sizeMib()).isEqualTo(64L);
        f.clone = "";
        assertThat(f.toRequest().disks().getFirst().cloning()).as("left to the API: linked").isNull();
    }

    @Test
    void aLibraryIsoBootsAsACdRomWithABlankDiskToInstallOn() {
        NewVmFields f = fields("library-iso");
        f.libraryIso = "lib-ba9876543210";
        f.installDiskMib = "4096";
        VmRequest r = f.toRequest();
        assertThat(r.boot().kind()).isEqualTo("iso");
        assertThat(r.boot().library()).isEqualTo("lib-ba9876543210");
        assertThat(r.disks()).singleElement().satisfies(d -> {
            assertThat(d.sizeMib()).isEqualTo(4096L);
            assertThat(d.format()).isEqualTo("qcow2");
            assertThat(d.library()).isNull();
        });
    }

    @Test
    void aLibrarySourceWithoutItsChoiceIsRefusedByField() {
        NewVmFields iso = fields("library-iso");
        iso.libraryIso = "lib-ba9876543210";
        assertThatThrownBy(iso::toRequest).isInstanceOf(InvalidRequestException.class)
                .satisfies(e -> assertThat(((InvalidRequestException) e).violations())
                        .anySatisfy(v -> assertThat(v.field()).isEqualTo("installDiskMib")));
        NewVmFields disk = fields("library-disk");
        assertThatThrownBy(disk::toRequest).isInstanceOf(InvalidRequestException.class)
                .satisfies(e -> assertThat(((InvalidRequestException) e).violations())
                        .anySatisfy(v -> assertThat(v.field()).isEqualTo("libraryDisk")));
    }

    private static NewVmFields fields(String source) {
        NewVmFields f = new NewVmFields();
        f.source = source;
        f.name = "n";
        return f;
    }
}
