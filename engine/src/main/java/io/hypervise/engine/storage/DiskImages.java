package io.hypervise.engine.storage;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.DiskFormat;
import java.io.IOException;
import java.io.InputStreamReader;
import java.time.Duration;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The images a VM owns: blank disks created for it, in a folder of its own under the storage root
 * ({@code vms/<id>/}), deleted with it. Images a VM merely uses (from the library, or anywhere else
 * under the root) are never deleted by the engine.
 */
public final class DiskImages {

    /** 64 TiB: the largest blank disk, and far more than any host here has. */
    public static final long MAX_BYTES = 64L << 40;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PROGRESS = Pattern.compile("\\s*\\((\\d+(?:\\.\\d+)?)/100%\\)\\s*");

    private final StorageRoot storage;
    private final Path qemuImg;

    public DiskImages(StorageRoot storage, Path qemuImg) {
        this.storage = storage;
        this.qemuImg = qemuImg;
    }

    /**
     * What our own reading of the file says it is ({@link ImageInspector}): its format, declared or
     * detected, and sizes; refused with the reason where it may not be taken.
     */
    public ImageInspection inspect(Path file, ImageFormat declared) throws IOException {
        return new ImageInspector(qemuImg).inspect(file, declared);
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
        checkSize(bytes);
        prepare(image);
        run(image, Duration.ofSeconds(60), null, "create", "-q", "-f", format.qemuDriver(), image.toString(), Long.toString(bytes));
    }

    /**
     * Creates a qcow2 overlay on {@code base} (a linked clone). The base is named in the overlay's header
     * by its absolute path and format, and not opened ({@code -u}): its size is given, so qemu-img never
     * reads a library image.
     */
    public void createOverlay(Path image, Path base, DiskFormat baseFormat, long bytes) throws IOException {
        checkSize(bytes);
        prepare(image);
        run(image, Duration.ofSeconds(60), null, "create", "-q", "-f", DiskFormat.QCOW2.qemuDriver(), "-u",
                "-b", base.toString(), "-F", baseFormat.qemuDriver(), image.toString(), Long.toString(bytes));
    }

    /**
     * Copies {@code source} into a new image in {@code format}, both formats given (nothing probed), the
     * target sparse where the source reads as zeros. {@code progress} hears the percentage done.
     */
    public void copy(Path source, DiskFormat sourceFormat, Path image, DiskFormat format, LongConsumer progress)
            throws IOException {
        prepare(image);
        run(image, Duration.ofHours(12), progress, "convert", "-p", "-f", sourceFormat.qemuDriver(), "-O",
                format.qemuDriver(), source.toString(), image.toString());
    }

    /** Moves an image made elsewhere in the storage root (a disk of a VM archive) to be {@code image}. */
    public void adopt(Path file, Path image) throws IOException {
        prepare(image);
        Files.move(file, image, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Copies a VM's disk into a new, self-contained image in {@code format}: a linked clone is flattened
     * (its base's data and its own, merged). The chain is given to qemu-img explicitly, as the worker is
     * given it; nothing is probed and the overlay's header is not followed.
     */
    public void flatten(Disk disk, Path image, DiskFormat format, LongConsumer progress) throws IOException {
        prepare(image);
        ObjectNode source = node(disk.format(), disk.path());
        if (disk.backing() != null) {
            source.set("backing", node(disk.backing().format(), disk.backing().path()));
        } else if (disk.format().takesBacking()) {
            source.putNull("backing");
        }
        run(image, Duration.ofHours(12), progress, "convert", "-p", "-O", format.qemuDriver(), "json:" + source, image.toString());
    }

    private static ObjectNode node(DiskFormat format, Path file) {
        ObjectNode node = JSON.createObjectNode().put("driver", format.qemuDriver());
        node.set("file", JSON.createObjectNode().put("driver", "file").put("filename", file.toString()));
        if (format.takesBacking()) {
            node.putNull("backing");
        }
        return node;
    }

    private static void checkSize(long bytes) {
        if (bytes <= 0 || bytes > MAX_BYTES) {
            throw new IllegalArgumentException("a disk must be from 1 byte to 64 TiB; got " + bytes);
        }
    }

    private static void prepare(Path image) throws IOException {
        Files.createDirectories(image.getParent());
        if (Files.exists(image)) {
            throw new IOException(image + " already exists");
        }
    }

    /**
     * Takes ({@code -c}), applies ({@code -a}) or deletes ({@code -d}) internal snapshot {@code tag} of a VM's
     * qcow2 disk while no worker has it open. The image is named with its format and without following its
     * header (a linked clone's base is not opened: a snapshot is the overlay's own), and kept whatever happens.
     */
    public void snapshot(Disk disk, String operation, String tag) throws IOException {
        if (!List.of("-c", "-a", "-d").contains(operation)) {
            throw new IllegalArgumentException("not a snapshot operation: " + operation);
        }
        ObjectNode image = node(disk.format(), disk.path());
        run(null, Duration.ofMinutes(30), null, "snapshot", operation, tag, "json:" + image);
    }

    /** The size the guest sees of a VM's disk, from its header (a qcow2, a clone's overlay included) or its length. */
    public long virtualBytes(Disk disk) throws IOException {
        return switch (disk.format()) {
            case QCOW2 -> ImageInspector.qcowSize(disk.path());
            case RAW -> Files.size(disk.path());
            case VHD, VHDX -> inspect(disk.path(), ImageFormat.valueOf(disk.format().name())).virtualBytes();
        };
    }

    /** Grows a VM's disk image, not running, to {@code bytes}; its header is not followed (a clone's base stays as it is). */
    public void resize(Disk disk, long bytes) throws IOException {
        checkSize(bytes);
        run(null, Duration.ofMinutes(5), null, "resize", "json:" + node(disk.format(), disk.path()), Long.toString(bytes));
    }

    /**
     * Runs qemu-img to make {@code image}, which is deleted if it fails (null: a command that makes nothing). With {@code progress}, its
     * "(12.50/100%)" reports are read as they come (qemu-img -p writes them between carriage returns).
     */
    private void run(Path image, Duration timeout, LongConsumer progress, String... arguments) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(qemuImg.toString());
        command.addAll(List.of(arguments));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        StringBuilder out = new StringBuilder();
        try (var reader = new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)) {
            StringBuilder line = new StringBuilder();
            int c;
            while ((c = reader.read()) != -1) {
                if (c != '\r' && c != '\n') {
                    line.append((char) c);
                    continue;
                }
                Matcher m = PROGRESS.matcher(line);
                if (m.matches()) {
                    if (progress != null) {
                        progress.accept((long) Double.parseDouble(m.group(1)));
                    }
                } else if (!line.isEmpty() && out.length() < 4096) {
                    out.append(line.toString().strip()).append(' ');
                }
                line.setLength(0);
            }
            if (!line.isEmpty() && !PROGRESS.matcher(line).matches()) {
                out.append(line.toString().strip());
            }
        }
        try {
            if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                deleteIfMade(image);
                throw new IOException("qemu-img " + arguments[0] + " did not finish within " + timeout.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            deleteIfMade(image);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running qemu-img " + arguments[0], e);
        }
        if (p.exitValue() != 0) {
            deleteIfMade(image);
            throw new IOException("qemu-img " + arguments[0] + " failed: " + out.toString().strip());
        }
    }

    private static void deleteIfMade(Path image) throws IOException {
        if (image != null) {
            Files.deleteIfExists(image);
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
