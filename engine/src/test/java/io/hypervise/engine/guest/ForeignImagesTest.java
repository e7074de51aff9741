package io.hypervise.engine.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.hypervise.engine.Engine;
import io.hypervise.engine.host.Accelerator;
import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.vm.VmState;
import io.hypervise.engine.vm.VmStatus;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import io.hypervise.engine.vm.definition.InvalidVmDefinitionException;
import io.hypervise.engine.vm.worker.QemuCommandLine;
import io.hypervise.engine.vm.worker.VmFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Images made by the real qemu-img whose headers lead QEMU to a host file outside the storage root:
 * refused when a VM is defined and again when it starts, and never followed by QEMU's block layer
 * given the worker's own {@code -blockdev}.
 */
class ForeignImagesTest {

    private static final String MARKER = "HOST-SECRET-MARKER";

    private static TestHost host;
    private static Engine engine;
    private static Path outside;
    private static Path secret;

    @BeforeAll
    static void openEngine() throws Exception {
        host = TestHost.create();
        engine = host.openEngine();
        outside = Files.createTempDirectory(Path.of("/tmp"), "hv-host-files");
        secret = outside.resolve("secret.img");
        Files.writeString(secret, (MARKER + "\n").repeat(4096));
    }

    @AfterAll
    static void close() throws Exception {
        engine.close();
        host.close();
        FileTrees.delete(outside);
    }

    @Test
    void aQcow2NamingAHostFileAsItsBackingFileIsRefusedWhenTheVmIsDefined() throws Exception {
        Path evil = qemuImg("backed.qcow2", "-b", secret.toString(), "-F", "raw");

        assertThatThrownBy(() -> engine.vms().define(host.tinyLinux("backed")
                .withDisks(new Disk(evil, DiskFormat.QCOW2, false)).build()))
                .isInstanceOfSatisfying(InvalidVmDefinitionException.class, e -> assertThat(e.violations()).singleElement()
                        .satisfies(v -> assertThat(v.field()).isEqualTo("disks[0].path"))
                        .satisfies(v -> assertThat(v.message()).contains("names a backing file '" + secret + "'")));
        assertThat(engine.vms().list()).extracting(VmStatus::id).doesNotContain("backed");
    }

    @Test
    void aQcow2KeepingItsDataInAHostFileIsRefused() throws Exception {
        Path data = Files.copy(secret, outside.resolve("data.img"));
        Path evil = qemuImg("data.qcow2", "-o", "data_file=" + data + ",data_file_raw=on");

        assertThatThrownBy(() -> engine.vms().define(host.tinyLinux("data")
                .withDisks(new Disk(evil, DiskFormat.QCOW2, true)).build()))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("disks[0].path: is a qcow2 image that keeps its data in an external data file '" + data + "'");
    }

    @Test
    void theSameImageDeclaredRawIsRefusedToo() throws Exception {
        Path evil = qemuImg("posing.img", "-b", secret.toString(), "-F", "raw");

        assertThatThrownBy(() -> engine.vms().define(host.tinyLinux("posing")
                .withDisks(new Disk(evil, DiskFormat.RAW, false)).build()))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("disks[0].path: is declared raw but starts with a qcow or qcow2 header");
    }

    @Test
    void anImageRewrittenAfterTheVmWasDefinedIsRefusedAtStartAndNoWorkerRuns() throws Exception {
        Path disk = host.newDisk("rewritten.qcow2", "qcow2", "1M");
        engine.vms().define(host.tinyLinux("rewritten").withDisks(new Disk(disk, DiskFormat.QCOW2, false)).build());
        Path evil = qemuImg("rewrite.qcow2", "-b", secret.toString(), "-F", "raw");
        Files.move(evil, disk, StandardCopyOption.REPLACE_EXISTING);

        assertThatThrownBy(() -> engine.vms().start("rewritten"))
                .isInstanceOf(InvalidVmDefinitionException.class)
                .hasMessageContaining("disks[0].path: is a qcow2 image that names a backing file");
        VmStatus status = engine.vms().status("rewritten");
        assertThat(status.state()).isEqualTo(VmState.OFF);
        assertThat(status.reason()).startsWith("cannot start:").contains("names a backing file '" + secret + "'");
        assertThat(host.workers()).isEmpty();
        engine.vms().delete("rewritten");
    }

    @Test
    void qemuGivenTheWorkersBlockdevReadsNothingOfTheBackingFile() throws Exception {
        Path evil = qemuImg("opened.qcow2", "-b", secret.toString(), "-F", "raw");
        List<String> argv = new QemuCommandLine(Path.of("qemu-system-x86_64"), Accelerator.TCG).build(
                host.tinyLinux("opened").withDisks(new Disk(evil, DiskFormat.QCOW2, true)).build(),
                new VmFiles(host.stateDir().resolve("vms/opened")), p -> p, false);
        String blockdev = argv.get(argv.indexOf("-blockdev") + 1);

        String read = qemuIo(blockdev);
        // The control: the same node without "backing": null reads the host file, so the test could see a leak.
        String followed = qemuIo(blockdev.replace(",\"backing\":null", ""));

        assertThat(read).contains("read 65536/65536 bytes").doesNotContain("HOST");
        assertThat(followed).contains("HOST.SECRET");
    }

    /** A 1 MiB qcow2 image in the storage root, made by qemu-img with the given options. */
    private static Path qemuImg(String name, String... options) throws IOException, InterruptedException {
        Path image = host.storageRoot().resolve(name);
        List<String> command = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2"));
        command.addAll(List.of(options));
        command.addAll(List.of(image.toString(), "1M"));
        run(command);
        return image;
    }

    /** What QEMU's block layer reads at the start of the disk a {@code -blockdev} object describes. */
    private static String qemuIo(String blockdev) throws IOException, InterruptedException {
        return run(List.of("qemu-io", "-r", "-c", "read -v 0 65536", "json:" + blockdev));
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(command + " failed: " + out);
        }
        return out;
    }
}
