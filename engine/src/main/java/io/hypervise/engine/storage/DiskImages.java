package io.hypervise.engine.storage;

import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.storage.StorageRoot;
import io.hypervise.engine.vm.definition.DiskFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The images a VM owns: blank disks created for it, in a folder of its own under the storage root
 * ({@code vms/<id>/}), deleted with it. Images a VM merely uses (from the library, or anywhere else
 * under the root) are never deleted by the engine.
 */
public final class DiskImages {

    /** 64 TiB: the largest blank disk, and far more than any host here has. */
    public static final long MAX_BYTES = 64L << 40;

    private final StorageRoot storage;
    private final Path qemuImg;

    public DiskImages(StorageRoot storage, Path qemuImg) {
        this.storage = storage;
        this.qemuImg = qemuImg;
    }

    /** The folder of the VM's own images. */
    public Path folderOf(String vmId) {
        Path vms = storage.path().resolve("vms");
        Path folder = vms.resolve(vmId).normalize();
        if (!folder.getParent().equals(vms)) {
            throw new IllegalArgumentException("'" + vmId + "' is not a VM id");
        }
        return folder;
    }

    /** Whether the image is one the VM owns, to be deleted with it. */
    public boolean owns(String vmId, Path image) {
        return image != null && image.toAbsolutePath().normalize().startsWith(folderOf(vmId));
    }

    public Path pathFor(String vmId, int position, DiskFormat format) {
        return folderOf(vmId).resolve("disk" + position + "." + extension(format));
    }

    /** Creates a blank, sparse image of {@code bytes} in the format; refuses to replace a file. */
    public void create(Path image, DiskFormat format, long bytes) throws IOException {
        if (bytes <= 0 || bytes > MAX_BYTES) {
            throw new IllegalArgumentException("a blank disk must be from 1 byte to 64 TiB; got " + bytes);
        }
        Files.createDirectories(image.getParent());
        if (Files.exists(image)) {
            throw new IOException(image + " already exists");
        }
        Process p = new ProcessBuilder(qemuImg.toString(), "create", "-q", "-f", format.qemuDriver(),
                image.toString(), Long.toString(bytes)).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("qemu-img create did not finish within 60 s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while creating " + image, e);
        }
        if (p.exitValue() != 0) {
            Files.deleteIfExists(image);
            throw new IOException("qemu-img create failed: " + out);
        }
    }

    /** Deletes the VM's own images and their folder; returns the images deleted. */
    public List<Path> deleteAll(String vmId) throws IOException {
        Path folder = folderOf(vmId);
        List<Path> images = new ArrayList<>();
        if (Files.isDirectory(folder)) {
            try (Stream<Path> files = Files.list(folder)) {
                files.filter(Files::isRegularFile).sorted().forEach(images::add);
            }
        }
        FileTrees.delete(folder);
        return images;
    }

    /** Deletes the given images of the VM, and its folder if that leaves it empty. */
    public void delete(String vmId, List<Path> created) throws IOException {
        for (Path image : created) {
            Files.deleteIfExists(image);
        }
        Path folder = folderOf(vmId);
        if (Files.isDirectory(folder)) {
            try (Stream<Path> left = Files.list(folder)) {
                if (left.findAny().isEmpty()) {
                    Files.delete(folder);
                }
            }
        }
    }

    private static String extension(DiskFormat format) {
        return switch (format) {
            case RAW -> "img";
            case QCOW2 -> "qcow2";
            case VHD -> "vhd";
            case VHDX -> "vhdx";
        };
    }
}
